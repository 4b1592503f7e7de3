// `node --import tsx simulator/main.ts [--port N] [--host H]`: the fake provider as its own
// process (the benchmark's upstream, the demo's provider). Prints one line when listening, and
// tells a parent that forked it with IPC: `{ type: 'ready', port }`. Runs until SIGTERM/SIGINT.
import { parseArgs } from 'node:util';
import { startFakeProvider } from './server.ts';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`fake-provider: --port must be 0-65535, got ${values.port}\n`);
  process.exit(2);
}

const fake = await startFakeProvider({ port, host: values.host });
process.stdout.write(`fake-provider listening on ${fake.url}\n`);
process.send?.({ type: 'ready', port: fake.port });

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  fake.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// A parent that forked us and went away will not send a signal.
process.on('disconnect', stop);
