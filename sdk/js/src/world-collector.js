// The exports of a collector component (the build's entry module re-exports them).
import * as hostLog from 'sandkit:plugin/host-log@0.1.1';
import * as emit from 'sandkit:plugin/emit@0.1.1';
import * as state from 'sandkit:plugin/state@0.1.1';
import * as system from 'sandkit:plugin/system@0.1.1';
import * as httpClient from 'sandkit:plugin/http-client@0.1.1';
import * as files from 'sandkit:plugin/files@0.1.1';
import { exportsFor } from './component.js';

const w = exportsFor('collector', { hostLog, emit, state, system, httpClient, files });
export const describe = w.describe;
export const init = w.init;
export const collect = w.collect;
