package io.mailproxy.core.admin;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonFactoryBuilder;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamWriteConstraints;
import com.fasterxml.jackson.core.StreamWriteFeature;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.core.io.CharacterEscapes;
import com.fasterxml.jackson.core.io.SerializedString;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializer;
import java.io.IOException;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;

/**
 * The JSON (RFC 8259) the admin endpoint and the control socket speak, written and read by Jackson.
 *
 * <p>{@link #write} encodes {@code null}, strings, numbers (a whole double without its {@code .0}, NaN and infinity
 * as {@code null}, {@link BigDecimal} in plain notation), booleans, enums (their name in lower case, {@code _} as
 * {@code -}), {@link Instant} (ISO-8601 text), {@link Duration} (whole seconds), {@link Optional} (its value or
 * {@code null}), maps (keys by {@code toString()}), collections and records (their components, in declaration order).
 * Control characters, DEL and U+2028/2029 are escaped, so the text is also safe inside a {@code <script>}.
 * {@link #parse} reads any JSON text into {@link LinkedHashMap}, {@link ArrayList}, {@link String},
 * {@link BigDecimal}, {@link Boolean} and {@code null}.
 */
public final class Json {

    /** Nesting deeper than this is refused by the parser (a hostile or broken peer) and by the writer. */
    static final int MAX_DEPTH = 64;

    private static final ObjectMapper MAPPER = mapper();

    private Json() { }

    public static String write(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot write JSON: " + e.getOriginalMessage(), e);
        }
    }

    /**
     * @throws IllegalArgumentException when {@code text} is not one JSON value, with the offset of the character at
     *                                  fault and the parser's reason
     */
    public static Object parse(String text) {
        try {
            JsonNode tree = MAPPER.readTree(text);
            if (tree.isMissingNode()) {
                throw new IllegalArgumentException("bad JSON at offset " + text.length() + ": unexpected end");
            }
            return plain(tree);
        } catch (StreamConstraintsException e) {
            throw new IllegalArgumentException("bad JSON: nesting deeper than " + MAX_DEPTH, e); // no location
        } catch (JsonProcessingException e) {
            long offset = e.getLocation() == null ? -1 : e.getLocation().getCharOffset();
            throw new IllegalArgumentException("bad JSON at offset " + offset + ": " + e.getOriginalMessage(), e);
        }
    }

    /** A tree as plain Java values: objects keep their member order, every number is an exact {@link BigDecimal}. */
    private static Object plain(JsonNode node) {
        if (node.isObject()) {
            Map<String, Object> map = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> e : node.properties()) {
                map.put(e.getKey(), plain(e.getValue()));
            }
            return map;
        }
        if (node.isArray()) {
            List<Object> list = new ArrayList<>(node.size());
            node.forEach(item -> list.add(plain(item)));
            return list;
        }
        if (node.isNumber()) {
            return node.decimalValue();
        }
        if (node.isBoolean()) {
            return node.booleanValue();
        }
        return node.isNull() ? null : node.textValue();
    }

    private static ObjectMapper mapper() {
        SimpleModule module = new SimpleModule("mailproxy-json")
                .addSerializer(Number.class, serializer(Json::number))
                .addSerializer(Duration.class, serializer((d, gen) -> gen.writeNumber(d.toSeconds())))
                .addSerializer(Instant.class, ToStringSerializer.instance)
                .addSerializer(Enum.class, serializer((e, gen) ->
                        gen.writeString(e.name().toLowerCase(Locale.ROOT).replace('_', '-'))))
                .addSerializer(OptionalInt.class, serializer((o, gen) -> {
                    if (o.isPresent()) {
                        gen.writeNumber(o.getAsInt());
                    } else {
                        gen.writeNull();
                    }
                }))
                .addSerializer(OptionalLong.class, serializer((o, gen) -> {
                    if (o.isPresent()) {
                        gen.writeNumber(o.getAsLong());
                    } else {
                        gen.writeNull();
                    }
                }))
                .addKeySerializer(Object.class, new JsonSerializer<>() {
                    @Override
                    public void serialize(Object key, JsonGenerator gen, SerializerProvider provider)
                            throws IOException {
                        gen.writeFieldName(String.valueOf(key));
                    }
                });
        module.addSerializer(Optional.class, new OptionalSerializer());
        module.addSerializer(Double.TYPE, serializer(Json::number)); // primitive components: no superclass
        module.addSerializer(Float.TYPE, serializer(Json::number));
        JsonFactory factory = new JsonFactoryBuilder()
                .characterEscapes(new Escapes())
                .enable(StreamWriteFeature.WRITE_BIGDECIMAL_AS_PLAIN)
                .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH).build())
                // the writer counts containers, so a scalar inside MAX_DEPTH + 1 of them is still written
                .streamWriteConstraints(StreamWriteConstraints.builder().maxNestingDepth(MAX_DEPTH + 1).build())
                .build();
        JsonMapper mapper = JsonMapper.builder(factory)
                .addModule(module)
                .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .nodeFactory(JsonNodeFactory.withExactBigDecimals(true))
                .build();
        mapper.getSerializerProvider().setNullKeySerializer(serializer((key, gen) -> gen.writeFieldName("null")));
        return mapper;
    }

    private static void number(Number n, JsonGenerator gen) throws IOException {
        if (n instanceof Double || n instanceof Float) {
            double d = n.doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) {
                gen.writeNull(); // JSON has no NaN or infinity
            } else if (d == Math.rint(d) && Math.abs(d) < 1e15) {
                gen.writeNumber((long) d);
            } else {
                gen.writeNumber(d);
            }
        } else if (n instanceof BigDecimal d) {
            gen.writeNumber(d);
        } else {
            gen.writeNumber(n.toString());
        }
    }

    private interface Writer<T> {
        void write(T value, JsonGenerator gen) throws IOException;
    }

    private static <T> JsonSerializer<T> serializer(Writer<T> writer) {
        return new JsonSerializer<>() {
            @Override
            public void serialize(T value, JsonGenerator gen, SerializerProvider provider) throws IOException {
                writer.write(value, gen);
            }
        };
    }

    /** An {@link Optional} is its value, or {@code null}. */
    @SuppressWarnings("rawtypes")
    private static final class OptionalSerializer extends JsonSerializer<Optional> {
        @Override
        public void serialize(Optional value, JsonGenerator gen, SerializerProvider provider) throws IOException {
            provider.defaultSerializeValue(value.orElse(null), gen);
        }
    }

    /** Control characters and DEL as {@code \}{@code u00xx} (short forms where JSON has one), U+2028/2029 too. */
    private static final class Escapes extends CharacterEscapes {
        private final int[] ascii = standardAsciiEscapesForJSON();

        Escapes() {
            for (int c = 0; c < 0x20; c++) {
                if (ascii[c] == CharacterEscapes.ESCAPE_STANDARD) {
                    ascii[c] = CharacterEscapes.ESCAPE_CUSTOM;
                }
            }
            ascii[0x7f] = CharacterEscapes.ESCAPE_CUSTOM;
        }

        @Override
        public int[] getEscapeCodesForAscii() {
            return ascii;
        }

        @Override
        public SerializableString getEscapeSequence(int c) {
            return c < 0x20 || c == 0x7f || c == 0x2028 || c == 0x2029
                    ? new SerializedString(String.format("\\u%04x", c)) : null;
        }
    }
}
