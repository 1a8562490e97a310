// How every process ends on SIGTERM or SIGINT: it stops (finishing what is in flight), then
// exits 0; a stop that fails exits 1 with the reason on stderr. A second signal while stopping
// changes nothing (the handlers stay, so it does not kill the process either).
export function stopOnSignals(stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    stop().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`shutdown failed: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
