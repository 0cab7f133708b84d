// The CPU engine (onnxruntime-node) against the PyTorch reference fixtures: logits, greedy ids, batching.

import { defineParitySuite } from './helpers/parity-suite.js';

defineParitySuite('cpu');
