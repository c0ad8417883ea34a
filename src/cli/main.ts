#!/usr/bin/env node
// The `bootstation` executable: runs the command line and exits with its code.
import { main } from './run.ts';

process.exitCode = await main(process.argv.slice(2), process.env);
