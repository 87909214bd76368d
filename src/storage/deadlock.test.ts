import { describe, expect, it } from 'vitest';
import { retryOnDeadlock } from './deadlock.js';

const deadlock = () => Object.assign(new Error('deadlock detected'), { code: '40P01' });

describe('retryOnDeadlock', () => {
  it('runs again after a deadlock and gives the result of the try that went through', async () => {
    let calls = 0;
    const result = await retryOnDeadlock(async () => {
      calls++;
      if (calls === 1) throw deadlock();
      return 'done';
    });
    expect(result).toBe('done');
    expect(calls).toBe(2);
  });

  it('gives up after the last try with the deadlock itself', async () => {
    let calls = 0;
    const failing = retryOnDeadlock(async () => {
      calls++;
      throw deadlock();
    }, 3);
    await expect(failing).rejects.toMatchObject({ code: '40P01' });
    expect(calls).toBe(3);
  });

  it('does not run again after any other error', async () => {
    let calls = 0;
    const failing = retryOnDeadlock(async () => {
      calls++;
      throw Object.assign(new Error('duplicate key'), { code: '23505' });
    });
    await expect(failing).rejects.toThrow('duplicate key');
    expect(calls).toBe(1);
  });
});
