#!/usr/bin/env node
'use strict';
// The `cutover` command: runs the compiled CLI (build with `make build`).
const path = require('node:path');
const fs = require('node:fs');
const cli = path.join(__dirname, '..', 'dist', 'client', 'cli.js');
if (!fs.existsSync(cli)) {
  process.stderr.write('cutover is not built yet: run `make build` (or `npm run build`) first\n');
  process.exit(2);
}
require(cli)
  .main(process.argv)
  .then((code) => {
    process.exitCode = code;
  });
