#!/usr/bin/env node
import { hello } from './x.ts';
console.log(hello());
