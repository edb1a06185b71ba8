import type { JobRecord, JobState } from '../../jobs/job.js';

const STATUS: Record<JobState, string> = {
  queued: 'IN_QUEUE',
  running: 'IN_PROGRESS',
  completed: 'COMPLETED',
  failed: 'FAILED',
  cancelled: 'CANCELLED',
  'timed-out': 'TIMED_OUT',
};

export function runpodStatus(state: JobState): string {
  return STATUS[state];
}

/** A job as RunPod's /status, /runsync and webhooks show it. */
export function toRunpodJob(job: JobRecord): Record<string, unknown> {
  const view: Record<string, unknown> = { id: job.id, status: STATUS[job.state] };
  if (job.startedAt !== undefined) view['delayTime'] = job.startedAt - job.createdAt;
  if (job.finishedAt !== undefined && job.startedAt !== undefined) view['executionTime'] = job.finishedAt - job.startedAt;
  if (job.output !== undefined && job.state !== 'queued' && job.state !== 'cancelled') view['output'] = job.output;
  if (job.error !== undefined) view['error'] = job.error;
  if (job.workerId !== undefined) view['workerId'] = job.workerId;
  if (job.retries > 0) view['retries'] = job.retries;
  return view;
}
