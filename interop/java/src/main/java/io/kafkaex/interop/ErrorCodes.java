package io.kafkaex.interop;

import org.apache.kafka.common.errors.ApiException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.protocol.Errors;

/**
 * Prints every {@link Errors} value of the kafka-clients on the classpath, one per line, as
 * {@code CODE<TAB>NAME<TAB>RETRIABLE<TAB>MESSAGE}, in code order.
 *
 * <p>RETRIABLE is {@code true} when the error's exception is a {@link RetriableException} (the
 * flag the Java client retries on); MESSAGE is the exception's default message, empty for
 * {@code NONE} (as in Kafka's own protocol documentation table).
 *
 * <p>kafkaex-protocol's {@code ErrorCode} table is compared with this output: by
 * {@code tests/error_code.rs} against a committed fixture made with
 * {@code java -cp kafka-clients-VERSION.jar ErrorCodes.java}, and against the interop build's
 * kafka-clients when {@code KAFKAEX_INTEROP} is set (usage: {@code ErrorCodes}, no arguments).
 */
public final class ErrorCodes {
    private ErrorCodes() {}

    /** Entry point; see the class comment. */
    public static void main(String[] args) {
        if (args.length != 0) {
            System.err.println("usage: ErrorCodes");
            System.exit(2);
        }
        Errors[] all = Errors.values().clone();
        java.util.Arrays.sort(all, (a, b) -> Short.compare(a.code(), b.code()));
        StringBuilder out = new StringBuilder();
        for (Errors e : all) {
            ApiException exception = e.exception();
            String message = exception == null ? "" : exception.getMessage();
            if (message == null) {
                message = "";
            }
            // The output is line- and tab-separated: a message that breaks that must not pass silently.
            if (message.indexOf('\t') >= 0 || message.indexOf('\n') >= 0) {
                System.err.println("message of " + e.name() + " contains a tab or a newline");
                System.exit(1);
            }
            out.append(e.code()).append('\t')
                .append(e.name()).append('\t')
                .append(exception instanceof RetriableException).append('\t')
                .append(message).append('\n');
        }
        System.out.print(out);
    }
}
