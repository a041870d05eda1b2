package lab.obi.agent.pipeline;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The batch handoff between the ring-buffer thread and the worker: bounded, in order, never silent. */
class RecordQueueTest {

    private static final long LONG_WAIT = TimeUnit.SECONDS.toNanos(10);

    @Test
    void aBatchBeyondTheCapacityKeepsItsFirstItemsAndCountsTheRest() throws Exception {
        RecordQueue<Integer> queue = new RecordQueue<>(4);

        assertEquals(2, queue.offerAll(List.of(1, 2, 3, 4, 5, 6), 0));
        assertEquals(4, queue.size());
        List<Integer> out = new ArrayList<>();
        assertEquals(3, queue.drainTo(out, 3, 0));
        assertEquals(1, queue.drainTo(out, 3, 0));
        assertEquals(List.of(1, 2, 3, 4), out);
        assertEquals(0, queue.drainTo(out, 3, 0), "empty, and no wait asked for");
    }

    @Test
    void aFullQueueWaitsForTheWorkerRatherThanDropping() throws Exception {
        RecordQueue<Integer> queue = new RecordQueue<>(2);
        queue.offerAll(List.of(1, 2), 0);

        CompletableFuture<Integer> producer = CompletableFuture.supplyAsync(() -> queue.offerAll(List.of(3, 4, 5), LONG_WAIT));
        List<Integer> out = new ArrayList<>();
        while (out.size() < 5) {
            queue.drainTo(out, 1, LONG_WAIT);
        }
        assertEquals(0, producer.get(10, TimeUnit.SECONDS), "every item found room within the wait");
        assertEquals(List.of(1, 2, 3, 4, 5), out);
    }

    @Test
    void anIdleWorkerIsWokenByTheNextBatch() throws Exception {
        RecordQueue<Integer> queue = new RecordQueue<>(8);
        CompletableFuture<List<Integer>> worker = CompletableFuture.supplyAsync(() -> {
            List<Integer> out = new ArrayList<>();
            try {
                queue.drainTo(out, 8, LONG_WAIT);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return out;
        });
        Thread.sleep(100);
        assertFalse(worker.isDone(), "nothing queued yet: the worker waits");

        long sent = System.nanoTime();
        queue.offerAll(List.of(7, 8), 0);
        assertEquals(List.of(7, 8), worker.get(10, TimeUnit.SECONDS));
        assertTrue(System.nanoTime() - sent < TimeUnit.SECONDS.toNanos(5), "woken by the batch, not by its timeout");
    }
}
