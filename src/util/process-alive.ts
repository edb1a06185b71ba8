/** Whether a process with this id exists (EPERM: it does, owned by someone else). For locks left by killed processes. */
export function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
