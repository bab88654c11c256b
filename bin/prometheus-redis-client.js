#!/usr/bin/env node
// The command npm links for the package: it runs the built CLI (dist/cli.js). It is a committed
// file so that `npm publish` finds a bin target before `prepack` has built dist/ — npm drops a
// bin entry whose file is missing when it reads the manifest.
import '../dist/cli.js';
