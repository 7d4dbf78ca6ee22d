using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Numerics;
using System.Text;

namespace LicenseCM
{
    /// <summary>
    /// JSON with the base class library only: a strict parser (objects become
    /// <c>Dictionary&lt;string, object&gt;</c>, arrays <c>List&lt;object&gt;</c>, integers <c>long</c>
    /// (or <c>BigInteger</c>), other numbers <c>double</c>), a compact writer, and the RFC 8785
    /// canonical form that answer signatures cover.
    /// </summary>
    public static class Json
    {
        public static object Parse(string text)
        {
            var parser = new Parser(text);
            parser.SkipSpace();
            var value = parser.Value(0);
            parser.SkipSpace();
            if (parser.At != text.Length) throw new FormatException("not JSON: trailing characters");
            return value;
        }

        /// <summary>Compact JSON in the dictionary's own key order.</summary>
        public static string Write(object value)
        {
            var output = new StringBuilder();
            Write(output, value, false);
            return output.ToString();
        }

        /// <summary>RFC 8785: keys sorted by UTF-16 code units, no whitespace, numbers as JavaScript writes them.</summary>
        public static string Canonical(object value)
        {
            var output = new StringBuilder();
            Write(output, value, true);
            return output.ToString();
        }

        static void Write(StringBuilder output, object value, bool canonical)
        {
            if (value == null) output.Append("null");
            else if (value is bool) output.Append((bool)value ? "true" : "false");
            else if (value is string) WriteString(output, (string)value);
            else if (value is double || value is float) output.Append(EcmaNumber(Convert.ToDouble(value)));
            else if (value is int || value is long || value is BigInteger || value is short || value is uint || value is ulong)
                output.Append(Convert.ToString(value, CultureInfo.InvariantCulture));
            else if (value is IDictionary<string, object>)
            {
                var map = (IDictionary<string, object>)value;
                var keys = map.Keys.ToList();
                if (canonical) keys.Sort(string.CompareOrdinal); // ordinal = UTF-16 code units
                output.Append('{');
                for (int i = 0; i < keys.Count; i++)
                {
                    if (i > 0) output.Append(',');
                    WriteString(output, keys[i]);
                    output.Append(':');
                    Write(output, map[keys[i]], canonical);
                }
                output.Append('}');
            }
            else if (value is System.Collections.IEnumerable)
            {
                output.Append('[');
                int i = 0;
                foreach (var item in (System.Collections.IEnumerable)value)
                {
                    if (i++ > 0) output.Append(',');
                    Write(output, item, canonical);
                }
                output.Append(']');
            }
            else throw new ArgumentException(value.GetType().Name + " is not a JSON value");
        }

        static void WriteString(StringBuilder output, string text)
        {
            output.Append('"');
            foreach (char c in text)
            {
                switch (c)
                {
                    case '"': output.Append("\\\""); break;
                    case '\\': output.Append("\\\\"); break;
                    case '\b': output.Append("\\b"); break;
                    case '\f': output.Append("\\f"); break;
                    case '\n': output.Append("\\n"); break;
                    case '\r': output.Append("\\r"); break;
                    case '\t': output.Append("\\t"); break;
                    default:
                        if (c < 0x20) output.Append("\\u").Append(((int)c).ToString("x4"));
                        else output.Append(c);
                        break;
                }
            }
            output.Append('"');
        }

        /// <summary>ECMAScript Number::toString from the shortest digits that read back as the same double.</summary>
        public static string EcmaNumber(double value)
        {
            if (double.IsNaN(value) || double.IsInfinity(value)) throw new ArgumentException("NaN and infinities are not JSON");
            if (value == 0) return "0";
            double magnitude = Math.Abs(value);
            string scientific = null;
            for (int precision = 1; precision <= 17; precision++)
            {
                scientific = magnitude.ToString("E" + (precision - 1), CultureInfo.InvariantCulture);
                double back;
                // Rounding up may pass the largest double: that text does not read back, so take more digits.
                if (double.TryParse(scientific, NumberStyles.Float, CultureInfo.InvariantCulture, out back) && back == magnitude) break;
            }
            int e = scientific.IndexOf('E');
            string digits = scientific.Substring(0, e).Replace(".", "").TrimEnd('0');
            if (digits.Length == 0) digits = "0";
            int exponent = int.Parse(scientific.Substring(e + 1), CultureInfo.InvariantCulture);
            int k = digits.Length, n = exponent + 1; // value = 0.<digits> x 10^n
            string text;
            if (k <= n && n <= 21) text = digits + new string('0', n - k);
            else if (0 < n && n <= 21) text = digits.Substring(0, n) + "." + digits.Substring(n);
            else if (-6 < n && n <= 0) text = "0." + new string('0', -n) + digits;
            else text = digits[0] + (k > 1 ? "." + digits.Substring(1) : "") + "e" + (n - 1 >= 0 ? "+" : "-") + Math.Abs(n - 1);
            return (value < 0 ? "-" : "") + text;
        }

        sealed class Parser
        {
            readonly string text;
            public int At;

            public Parser(string text) { this.text = text; }

            FormatException Error(string what) { return new FormatException("not JSON: " + what + " at " + At); }

            public void SkipSpace()
            {
                while (At < text.Length && " \t\n\r".IndexOf(text[At]) >= 0) At++;
            }

            bool Peek(char c)
            {
                if (At < text.Length && text[At] == c) { At++; return true; }
                return false;
            }

            void Expect(char c) { if (!Peek(c)) throw Error("expected '" + c + "'"); }

            public object Value(int depth)
            {
                if (depth > 200) throw Error("too deep");
                if (At >= text.Length) throw Error("end of text");
                char c = text[At];
                if (c == '{') return Object(depth);
                if (c == '[') return Array(depth);
                if (c == '"') return String();
                if (c == '-' || (c >= '0' && c <= '9')) return Number();
                foreach (var word in new[] { "true", "false", "null" })
                {
                    if (string.CompareOrdinal(text, At, word, 0, word.Length) == 0)
                    {
                        At += word.Length;
                        return word == "null" ? null : (object)(word == "true");
                    }
                }
                throw Error("unexpected character");
            }

            Dictionary<string, object> Object(int depth)
            {
                var map = new Dictionary<string, object>();
                At++;
                SkipSpace();
                if (Peek('}')) return map;
                while (true)
                {
                    SkipSpace();
                    if (At >= text.Length || text[At] != '"') throw Error("expected a key");
                    string key = String();
                    SkipSpace();
                    Expect(':');
                    SkipSpace();
                    map[key] = Value(depth + 1);
                    SkipSpace();
                    if (Peek('}')) return map;
                    Expect(',');
                }
            }

            List<object> Array(int depth)
            {
                var list = new List<object>();
                At++;
                SkipSpace();
                if (Peek(']')) return list;
                while (true)
                {
                    SkipSpace();
                    list.Add(Value(depth + 1));
                    SkipSpace();
                    if (Peek(']')) return list;
                    Expect(',');
                }
            }

            string String()
            {
                var output = new StringBuilder();
                At++;
                while (true)
                {
                    if (At >= text.Length) throw Error("unterminated string");
                    char c = text[At++];
                    if (c == '"') return output.ToString();
                    if (c < 0x20) throw Error("control character in a string");
                    if (c != '\\') { output.Append(c); continue; }
                    if (At >= text.Length) throw Error("unterminated escape");
                    char escape = text[At++];
                    switch (escape)
                    {
                        case '"': output.Append('"'); break;
                        case '\\': output.Append('\\'); break;
                        case '/': output.Append('/'); break;
                        case 'b': output.Append('\b'); break;
                        case 'f': output.Append('\f'); break;
                        case 'n': output.Append('\n'); break;
                        case 'r': output.Append('\r'); break;
                        case 't': output.Append('\t'); break;
                        case 'u':
                            int code;
                            if (At + 4 > text.Length || !int.TryParse(text.Substring(At, 4), NumberStyles.HexNumber,
                                CultureInfo.InvariantCulture, out code)) throw Error("bad \\u escape");
                            output.Append((char)code);
                            At += 4;
                            break;
                        default: throw Error("bad escape");
                    }
                }
            }

            object Number()
            {
                int start = At;
                Peek('-');
                if (!Peek('0'))
                {
                    if (At >= text.Length || !char.IsDigit(text[At])) throw Error("bad number");
                    while (At < text.Length && char.IsDigit(text[At])) At++;
                }
                bool integral = true;
                if (Peek('.'))
                {
                    integral = false;
                    if (At >= text.Length || !char.IsDigit(text[At])) throw Error("bad fraction");
                    while (At < text.Length && char.IsDigit(text[At])) At++;
                }
                if (At < text.Length && (text[At] == 'e' || text[At] == 'E'))
                {
                    integral = false;
                    At++;
                    if (!Peek('+')) Peek('-');
                    if (At >= text.Length || !char.IsDigit(text[At])) throw Error("bad exponent");
                    while (At < text.Length && char.IsDigit(text[At])) At++;
                }
                string literal = text.Substring(start, At - start);
                if (integral)
                {
                    long small;
                    if (long.TryParse(literal, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out small)) return small;
                    return BigInteger.Parse(literal, CultureInfo.InvariantCulture);
                }
                return double.Parse(literal, NumberStyles.Float, CultureInfo.InvariantCulture);
            }
        }
    }
}
