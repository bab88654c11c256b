#!lua
--[[
  release: a closing process gives up its gauge index, so its per-process gauges disappear now
  instead of expireSeconds after its last flush, and the index is free for the next process.
  Its typed argument builder is releaseArgs in src/redis/scripts.ts.

  KEYS[1]  the lease of the index   (string: the owning process id)
  KEYS[2]  the process key          (hash: its idx field names the index)

  ARGV[1]  process id
  ARGV[2..] this process's gauge hashes of the index in this slot, dropped (include/drop.lua)
           with the lease. Keys, but not declared: their number varies per process while a
           script's key count is fixed (the file name's); they share the KEYS' hash tag, so Redis
           Cluster keeps them in the KEYS' slot.

  Does nothing unless the lease is still this process's (it may have lapsed and been taken).
  Returns 1 when released, 0 otherwise.
]]
--@include drop
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
for i = 2, #ARGV do dropKeys(ARGV[i]) end
dropKeys(KEYS[1])
redis.call('HDEL', KEYS[2], 'idx')
return 1
