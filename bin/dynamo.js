#!/usr/bin/env node
// Runs bin/dynamo.ts through tsx, from any directory.
import { register } from 'tsx/esm/api';
register();
await import('./dynamo.ts');
