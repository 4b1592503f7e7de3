// `node --import tsx test/fake-provider/main.ts [--port N] [--host H]`: the fake provider as a process.
import { parseArgs } from 'node:util';
import { startFakeProvider } from './server.ts';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });
const fake = await startFakeProvider({ port: Number(values.port), host: values.host });
process.stdout.write(`fake-provider listening on ${fake.url}\n`);
process.send?.({ type: 'ready', port: fake.port });
const stop = (): void => {
  fake.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
