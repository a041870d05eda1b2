package lab.obi.agent.pipeline;

import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The bounded queue between the ring-buffer thread and the worker, handed records a batch at a
 * time. Put one by one, every record took the lock the worker was draining under and signalled it:
 * at 130k records/s that was a lock handoff, and often a futex call, per record.
 */
final class RecordQueue<T> {

    private final int capacity;
    private final ArrayDeque<T> items;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition notEmpty = lock.newCondition();
    private final Condition notFull = lock.newCondition();

    RecordQueue(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be positive: " + capacity);
        }
        this.capacity = capacity;
        this.items = new ArrayDeque<>(Math.min(capacity, 1 << 16));
    }

    /**
     * Adds the batch in order, waiting up to waitNanos in all for room while the queue is full; an
     * interrupt ends the wait (and stays set).
     *
     * @return how many of the batch's last items found no room (0: all were added)
     */
    int offerAll(List<T> batch, long waitNanos) {
        int added = 0;
        long left = waitNanos;
        lock.lock();
        try {
            while (added < batch.size()) {
                int room = capacity - items.size();
                if (room == 0) {
                    if (left <= 0) {
                        break;
                    }
                    try {
                        left = notFull.awaitNanos(left);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        break;
                    }
                    continue;
                }
                int end = Math.min(batch.size(), added + room);
                for (int i = added; i < end; i++) {
                    items.addLast(batch.get(i));
                }
                added = end;
                notEmpty.signal();
            }
        } finally {
            lock.unlock();
        }
        return batch.size() - added;
    }

    /**
     * Moves up to max items into out, waiting up to waitNanos for one when the queue is empty.
     *
     * @return how many it moved
     */
    int drainTo(List<T> out, int max, long waitNanos) throws InterruptedException {
        long left = waitNanos;
        lock.lock();
        try {
            while (items.isEmpty()) {
                if (left <= 0) {
                    return 0;
                }
                left = notEmpty.awaitNanos(left);
            }
            int moved = 0;
            while (moved < max && !items.isEmpty()) {
                out.add(items.pollFirst());
                moved++;
            }
            notFull.signal();
            return moved;
        } finally {
            lock.unlock();
        }
    }

    int size() {
        lock.lock();
        try {
            return items.size();
        } finally {
            lock.unlock();
        }
    }
}
