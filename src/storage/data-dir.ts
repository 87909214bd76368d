import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * DATA_DIR holds password hashes, session and CSRF tokens, the delivery log and the secret key:
 * only the service's own user may read any of it. The directory is 0700 (which alone keeps
 * every other user out) and the service's files in it 0600.
 */
export const DATA_DIR_MODE = 0o700;
export const DATA_FILE_MODE = 0o600;

/** The files the service writes in DATA_DIR. */
export const SQLITE_FILE = 'loadnotify.sqlite';
export const SECRET_KEY_FILE = 'secret.key';
const OURS = [
  SECRET_KEY_FILE,
  SQLITE_FILE,
  `${SQLITE_FILE}-wal`,
  `${SQLITE_FILE}-shm`,
  `${SQLITE_FILE}-journal`,
];

/** Creates DATA_DIR (and any missing parent) readable by the service's user only. */
export function makeDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: DATA_DIR_MODE });
}

/**
 * Makes DATA_DIR and the service's files in it private, creating the directory if need be.
 * Files of others there are left alone (DATA_DIR may be shared with them; the directory's mode
 * already keeps other users from reaching them). Returns what was looser than it should be, so
 * the caller can warn once.
 */
export function secureDataDir(dir: string): string[] {
  makeDataDir(dir);
  const tightened: string[] = [];
  const tighten = (file: string, mode: number) => {
    if (!existsSync(file)) return;
    const was = statSync(file).mode & 0o777;
    if ((was & ~mode) === 0) return;
    chmodSync(file, mode);
    tightened.push(`${file} (was ${was.toString(8)})`);
  };
  tighten(dir, DATA_DIR_MODE);
  for (const name of OURS) tighten(path.join(dir, name), DATA_FILE_MODE);
  return tightened;
}

/**
 * Creates an empty file with mode 0600 unless it exists. SQLite gives a database's -wal and
 * -shm files the mode of the database file, so creating that one private makes them private.
 */
export function createPrivateFile(file: string): void {
  closeSync(openSync(file, 'a', DATA_FILE_MODE));
}
