package io.mailproxy.daemon.logging;

import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;

/**
 * Logback's built-in {@link JsonEncoder} (one JSON object per line), with the message masked like
 * {@code %maskedMsg} ({@link MaskingMessageConverter}). The raw message template and the argument array are never
 * written, whatever {@code withMessage} and {@code withArguments} say: arguments are where a credential would hide.
 * Used by {@code conf/logback-json.xml}.
 */
public class MaskingJsonEncoder extends JsonEncoder {

    public MaskingJsonEncoder() {
        setWithMessage(false);
        setWithArguments(false);
        setWithFormattedMessage(true);
    }

    @Override
    public void setWithMessage(boolean ignored) {
        super.setWithMessage(false);
    }

    @Override
    public void setWithArguments(boolean ignored) {
        super.setWithArguments(false);
    }

    @Override
    public byte[] encode(ILoggingEvent event) {
        return super.encode(masked(event));
    }

    static ILoggingEvent masked(ILoggingEvent event) {
        String formatted = MaskingMessageConverter.mask(event.getFormattedMessage());
        InvocationHandler handler = (proxy, method, args) -> switch (method.getName()) {
            case "getFormattedMessage", "getMessage" -> formatted;
            case "getArgumentArray" -> null;
            default -> {
                try {
                    yield method.invoke(event, args);
                } catch (InvocationTargetException e) {
                    throw e.getCause();
                }
            }
        };
        return (ILoggingEvent) Proxy.newProxyInstance(MaskingJsonEncoder.class.getClassLoader(),
                new Class<?>[] {ILoggingEvent.class}, handler);
    }
}
