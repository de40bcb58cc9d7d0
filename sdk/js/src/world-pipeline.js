// The exports of a pipeline component (the build's entry module re-exports them).
import * as hostLog from 'sandkit:plugin/host-log@0.1.1';
import * as state from 'sandkit:plugin/state@0.1.1';
import * as files from 'sandkit:plugin/files@0.1.1';
import { exportsFor } from './component.js';

const w = exportsFor('pipeline', { hostLog, state, files });
export const describe = w.describe;
export const init = w.init;
export const process = w.process;
