package lab.obi.agent.integration;

import java.net.http.HttpTimeoutException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/** Waits for a Java HttpClient's calls and tells how many gave up on their timeout. */
final class ClientTimeouts {

    private ClientTimeouts() {
    }

    static int count(List<? extends CompletableFuture<?>> calls) {
        int timeouts = 0;
        for (CompletableFuture<?> call : calls) {
            try {
                call.join();
            } catch (CompletionException e) {
                if (e.getCause() instanceof HttpTimeoutException) {
                    timeouts++;
                }
            }
        }
        return timeouts;
    }
}
