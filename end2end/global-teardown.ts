import { stopRecorded } from './tests/helpers';

/** A server whose spec's worker died before its `afterAll` is stopped here. */
export default async function globalTeardown() {
  stopRecorded();
}
