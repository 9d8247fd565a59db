#!/usr/bin/env node
// Entry point of `npx churnflow`; the compiled CLI lives in dist/ (built by `npm ci` via prepare).
import { main } from '../dist/src/cli/main.js';

await main(process.argv);
