/**
 * A TCP proxy between a client and Redis that injects the faults a network can: delay, a reply
 * lost after the request was delivered, a black hole, connection resets. Tests point a registry
 * at `proxy.url` and the real server stays the source of truth.
 */
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Pair {
  readonly client: Socket;
  readonly server: Socket;
  /** Replies from the server are swallowed (the request got through, the answer is lost). */
  swallow: boolean;
}

export class FaultProxy {
  /** Milliseconds added before forwarding each chunk, both ways. */
  delayMs = 0;
  /** Hold every chunk, both ways, until `blackhole` is turned off (then they flow again). */
  blackhole = false;
  /** Counts of faults injected, by kind. */
  readonly injected = { lostReplies: 0, resets: 0 };
  readonly #server: Server;
  readonly #pairs = new Set<Pair>();
  readonly #held: Array<() => void> = [];
  #dropNext: RegExp | undefined;

  private constructor(
    server: Server,
    readonly port: number,
  ) {
    this.#server = server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<FaultProxy> {
    const holder: { proxy?: FaultProxy } = {};
    const server = createServer((client) => holder.proxy?.accept(client, targetPort, targetHost));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    holder.proxy = new FaultProxy(server, address.port);
    return holder.proxy;
  }

  /**
   * The next request matching `pattern` is delivered to Redis, but its connection is then reset
   * before the reply reaches the client: the outcome is unknown to the client.
   */
  loseNextReply(pattern: RegExp): void {
    this.#dropNext = pattern;
  }

  /** Reset every open connection (both sides). */
  resetAll(): void {
    for (const pair of this.#pairs) this.#reset(pair);
  }

  /** Stop holding traffic; held chunks are forwarded in order. */
  heal(): void {
    this.blackhole = false;
    this.delayMs = 0;
    for (const release of this.#held.splice(0)) release();
  }

  async close(): Promise<void> {
    this.resetAll();
    this.#server.close();
    await once(this.#server, 'close').catch(() => {});
  }

  /** @internal */
  accept(client: Socket, port: number, host: string): void {
    const server = connect(port, host);
    const pair: Pair = { client, server, swallow: false };
    this.#pairs.add(pair);
    const end = (): void => this.#reset(pair);
    client.on('error', end).on('close', end);
    server.on('error', end).on('close', end);
    client.on('data', (chunk: Buffer) => {
      const pattern = this.#dropNext;
      if (pattern !== undefined && pattern.test(chunk.toString('latin1'))) {
        this.#dropNext = undefined;
        pair.swallow = true;
        this.injected.lostReplies++;
        server.write(chunk);
        // Give Redis time to execute the request, then cut the connection before any reply.
        setTimeout(() => this.#reset(pair), 100);
        return;
      }
      this.#forward(() => server.write(chunk));
    });
    server.on('data', (chunk: Buffer) => {
      if (pair.swallow) return;
      this.#forward(() => client.write(chunk));
    });
  }

  #forward(send: () => void): void {
    if (this.blackhole) this.#held.push(send);
    else if (this.delayMs > 0) setTimeout(send, this.delayMs);
    else send();
  }

  #reset(pair: Pair): void {
    if (!this.#pairs.delete(pair)) return;
    this.injected.resets++;
    pair.client.destroy();
    pair.server.destroy();
  }
}
