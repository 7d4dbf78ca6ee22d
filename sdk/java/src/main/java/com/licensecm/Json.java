package com.licensecm;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * JSON with the JDK only: a strict parser (objects become {@code Map<String, Object>}, arrays
 * {@code List<Object>}, integers {@code Long} (or {@code BigInteger}), other numbers {@code Double}),
 * a compact writer, and the RFC 8785 canonical form answer signatures cover.
 */
public final class Json {
    private final String text;
    private int at;

    private Json(String text) {
        this.text = text;
    }

    /** Parses one JSON value; IllegalArgumentException when the text is not JSON. */
    public static Object parse(String text) {
        Json parser = new Json(text);
        parser.skipSpace();
        Object value = parser.value(0);
        parser.skipSpace();
        if (parser.at != text.length()) throw parser.error("trailing characters");
        return value;
    }

    /** Compact JSON in the map's own key order. */
    public static String write(Object value) {
        StringBuilder out = new StringBuilder();
        write(out, value, false);
        return out.toString();
    }

    /** RFC 8785: keys sorted by UTF-16 code units, no whitespace, numbers as JavaScript writes them. */
    public static String canonical(Object value) {
        StringBuilder out = new StringBuilder();
        write(out, value, true);
        return out.toString();
    }

    private static void write(StringBuilder out, Object value, boolean canonical) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof Boolean) {
            out.append(value.toString());
        } else if (value instanceof String) {
            string(out, (String) value);
        } else if (value instanceof Double || value instanceof Float) {
            out.append(ecmaNumber(((Number) value).doubleValue()));
        } else if (value instanceof Number) {
            out.append(value.toString());
        } else if (value instanceof Map) {
            List<String> keys = new ArrayList<>();
            for (Object key : ((Map<?, ?>) value).keySet()) keys.add((String) key);
            if (canonical) Collections.sort(keys); // String.compareTo compares UTF-16 code units
            out.append('{');
            for (int i = 0; i < keys.size(); i++) {
                if (i > 0) out.append(',');
                string(out, keys.get(i));
                out.append(':');
                write(out, ((Map<?, ?>) value).get(keys.get(i)), canonical);
            }
            out.append('}');
        } else if (value instanceof List) {
            out.append('[');
            int i = 0;
            for (Object item : (List<?>) value) {
                if (i++ > 0) out.append(',');
                write(out, item, canonical);
            }
            out.append(']');
        } else {
            throw new IllegalArgumentException(value.getClass().getName() + " is not a JSON value");
        }
    }

    private static void string(StringBuilder out, String value) {
        out.append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                case '\b': out.append("\\b"); break;
                case '\f': out.append("\\f"); break;
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                case '\t': out.append("\\t"); break;
                default:
                    if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
                    else out.append(c);
            }
        }
        out.append('"');
    }

    /** ECMAScript Number::toString from the shortest digits that read back as the same double. */
    static String ecmaNumber(double value) {
        if (Double.isNaN(value) || Double.isInfinite(value)) throw new IllegalArgumentException("NaN and infinities are not JSON");
        if (value == 0) return "0";
        String sign = value < 0 ? "-" : "";
        double magnitude = Math.abs(value);
        java.math.BigDecimal exact = new java.math.BigDecimal(magnitude);
        java.math.BigDecimal shortest = exact;
        for (int precision = 1; precision <= 17; precision++) { // the correctly rounded form of the fewest digits
            shortest = exact.round(new java.math.MathContext(precision, java.math.RoundingMode.HALF_EVEN));
            if (Double.parseDouble(shortest.toString()) == magnitude) break;
        }
        String digits = shortest.unscaledValue().toString();
        int exponent = digits.length() - 1 - shortest.scale(); // value = d.ddd x 10^exponent
        digits = digits.replaceAll("0+$", "");
        if (digits.isEmpty()) digits = "0";
        int k = digits.length();
        int n = exponent + 1; // value = 0.<digits> x 10^n
        String text;
        if (k <= n && n <= 21) {
            text = digits + "0".repeat(n - k);
        } else if (0 < n && n <= 21) {
            text = digits.substring(0, n) + "." + digits.substring(n);
        } else if (-6 < n && n <= 0) {
            text = "0." + "0".repeat(-n) + digits;
        } else {
            text = digits.charAt(0) + (k > 1 ? "." + digits.substring(1) : "") + "e" + (n - 1 >= 0 ? "+" : "-") + Math.abs(n - 1);
        }
        return sign + text;
    }

    // --- the parser ----------------------------------------------------------------------------

    private IllegalArgumentException error(String what) {
        return new IllegalArgumentException("not JSON: " + what + " at " + at);
    }

    private void skipSpace() {
        while (at < text.length() && " \t\n\r".indexOf(text.charAt(at)) >= 0) at++;
    }

    private Object value(int depth) {
        if (depth > 200) throw error("too deep");
        if (at >= text.length()) throw error("end of text");
        char c = text.charAt(at);
        if (c == '{') return object(depth);
        if (c == '[') return array(depth);
        if (c == '"') return string();
        if (c == '-' || (c >= '0' && c <= '9')) return number();
        for (String word : new String[] {"true", "false", "null"}) {
            if (text.startsWith(word, at)) {
                at += word.length();
                return word.equals("null") ? null : Boolean.valueOf(word);
            }
        }
        throw error("unexpected character");
    }

    private Map<String, Object> object(int depth) {
        Map<String, Object> map = new LinkedHashMap<>();
        at++;
        skipSpace();
        if (peek('}')) return map;
        while (true) {
            skipSpace();
            if (at >= text.length() || text.charAt(at) != '"') throw error("expected a key");
            String key = string();
            skipSpace();
            expect(':');
            skipSpace();
            map.put(key, value(depth + 1));
            skipSpace();
            if (peek('}')) return map;
            expect(',');
        }
    }

    private List<Object> array(int depth) {
        List<Object> list = new ArrayList<>();
        at++;
        skipSpace();
        if (peek(']')) return list;
        while (true) {
            skipSpace();
            list.add(value(depth + 1));
            skipSpace();
            if (peek(']')) return list;
            expect(',');
        }
    }

    private boolean peek(char c) {
        if (at < text.length() && text.charAt(at) == c) {
            at++;
            return true;
        }
        return false;
    }

    private void expect(char c) {
        if (!peek(c)) throw error("expected '" + c + "'");
    }

    private String string() {
        StringBuilder out = new StringBuilder();
        at++;
        while (true) {
            if (at >= text.length()) throw error("unterminated string");
            char c = text.charAt(at++);
            if (c == '"') return out.toString();
            if (c < 0x20) throw error("control character in a string");
            if (c != '\\') {
                out.append(c);
                continue;
            }
            if (at >= text.length()) throw error("unterminated escape");
            char escape = text.charAt(at++);
            switch (escape) {
                case '"': out.append('"'); break;
                case '\\': out.append('\\'); break;
                case '/': out.append('/'); break;
                case 'b': out.append('\b'); break;
                case 'f': out.append('\f'); break;
                case 'n': out.append('\n'); break;
                case 'r': out.append('\r'); break;
                case 't': out.append('\t'); break;
                case 'u':
                    if (at + 4 > text.length()) throw error("short \\u escape");
                    try {
                        out.append((char) Integer.parseInt(text.substring(at, at + 4), 16));
                    } catch (NumberFormatException e) {
                        throw error("bad \\u escape");
                    }
                    at += 4;
                    break;
                default: throw error("bad escape");
            }
        }
    }

    private Object number() {
        int start = at;
        peek('-');
        if (peek('0')) {
            // a leading zero stands alone
        } else if (at < text.length() && Character.isDigit(text.charAt(at))) {
            while (at < text.length() && Character.isDigit(text.charAt(at))) at++;
        } else {
            throw error("bad number");
        }
        boolean integral = true;
        if (peek('.')) {
            integral = false;
            if (at >= text.length() || !Character.isDigit(text.charAt(at))) throw error("bad fraction");
            while (at < text.length() && Character.isDigit(text.charAt(at))) at++;
        }
        if (at < text.length() && (text.charAt(at) == 'e' || text.charAt(at) == 'E')) {
            integral = false;
            at++;
            if (!peek('+')) peek('-');
            if (at >= text.length() || !Character.isDigit(text.charAt(at))) throw error("bad exponent");
            while (at < text.length() && Character.isDigit(text.charAt(at))) at++;
        }
        String literal = text.substring(start, at);
        if (integral) {
            BigInteger big = new BigInteger(literal);
            return big.bitLength() < 64 ? (Object) big.longValue() : big;
        }
        return Double.parseDouble(literal);
    }
}
