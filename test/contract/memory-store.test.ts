import { MemoryStateStore } from '../../src/state/memory-store.js';
import { stateStoreContract } from './state-store.contract.js';

stateStoreContract('memory store', async (layout) => new MemoryStateStore({ layout }));
