// The process entry of the dispatcher, run by the launcher hooks/gitward-hook as
// `node dist/hooks/hook-main.js HOOK`.
import { main } from './dispatch.js';

main();
