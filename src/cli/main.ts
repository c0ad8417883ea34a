#!/usr/bin/env -S node --max-semi-space-size=8
// The `bootstation` executable: runs the command line and exits with its code.
import { main } from './run.ts';

process.exitCode = await main(process.argv.slice(2), process.env);
