using System;
using System.Numerics;
using System.Security.Cryptography;

namespace LicenseCM
{
    /// <summary>
    /// AES-256-GCM (NIST SP 800-38D) over the platform's AES block cipher. Mono has no AesGcm, and
    /// .NET's AesGcm takes only 12-byte nonces while the protocol uses 16: so the SDK builds GCM from
    /// AES-ECB (one block at a time: the counter mode and GHASH below), with a constant-time GHASH and a
    /// constant-time tag check. Checked against NIST's GCM test vectors and KeyLedger's own envelopes.
    /// </summary>
    public static class AesGcm16
    {
        public const int TagBytes = 16;

        public static byte[] Encrypt(byte[] key, byte[] iv, byte[] plaintext, out byte[] tag)
        {
            using (var aes = Block(key))
            {
                byte[] h = aes.Encrypt(new byte[16]);
                byte[] j0 = PreCounter(h, iv);
                byte[] ciphertext = Ctr(aes, Increment(j0), plaintext);
                tag = Tag(aes, h, j0, ciphertext);
                return ciphertext;
            }
        }

        /// <summary>The plaintext, or null when the tag does not verify.</summary>
        public static byte[] Decrypt(byte[] key, byte[] iv, byte[] ciphertext, byte[] tag)
        {
            if (tag.Length != TagBytes) return null;
            using (var aes = Block(key))
            {
                byte[] h = aes.Encrypt(new byte[16]);
                byte[] j0 = PreCounter(h, iv);
                byte[] expected = Tag(aes, h, j0, ciphertext);
                int difference = 0;
                for (int i = 0; i < TagBytes; i++) difference |= expected[i] ^ tag[i];
                return difference == 0 ? Ctr(aes, Increment(j0), ciphertext) : null;
            }
        }

        sealed class BlockCipher : IDisposable
        {
            readonly ICryptoTransform transform;
            readonly Aes aes;

            public BlockCipher(byte[] key)
            {
                aes = Aes.Create();
                aes.Mode = CipherMode.ECB;
                aes.Padding = PaddingMode.None;
                aes.Key = key;
                transform = aes.CreateEncryptor();
            }

            public byte[] Encrypt(byte[] block)
            {
                var output = new byte[16];
                transform.TransformBlock(block, 0, 16, output, 0);
                return output;
            }

            public void Dispose()
            {
                transform.Dispose();
                aes.Dispose();
            }
        }

        static BlockCipher Block(byte[] key)
        {
            if (key.Length != 32) throw new ArgumentException("AES-256 needs a 32-byte key");
            return new BlockCipher(key);
        }

        static byte[] PreCounter(byte[] h, byte[] iv)
        {
            if (iv.Length == 12)
            {
                var j0 = new byte[16];
                Buffer.BlockCopy(iv, 0, j0, 0, 12);
                j0[15] = 1;
                return j0;
            }
            var lengths = new byte[16];
            WriteLength(lengths, 8, (ulong)iv.Length * 8);
            return Ghash(h, iv, lengths);
        }

        static byte[] Increment(byte[] counter)
        {
            var next = (byte[])counter.Clone();
            for (int i = 15; i >= 12; i--)
            {
                if (++next[i] != 0) break;
            }
            return next;
        }

        static byte[] Ctr(BlockCipher aes, byte[] counter, byte[] input)
        {
            var output = new byte[input.Length];
            for (int offset = 0; offset < input.Length; offset += 16)
            {
                byte[] stream = aes.Encrypt(counter);
                for (int i = 0; i < 16 && offset + i < input.Length; i++) output[offset + i] = (byte)(input[offset + i] ^ stream[i]);
                counter = Increment(counter);
            }
            return output;
        }

        static byte[] Tag(BlockCipher aes, byte[] h, byte[] j0, byte[] ciphertext)
        {
            var lengths = new byte[16];
            WriteLength(lengths, 8, (ulong)ciphertext.Length * 8); // no associated data: its length is 0
            byte[] s = Ghash(h, ciphertext, lengths);
            byte[] mask = aes.Encrypt(j0);
            for (int i = 0; i < 16; i++) s[i] ^= mask[i];
            return s;
        }

        static void WriteLength(byte[] block, int offset, ulong bits)
        {
            for (int i = 0; i < 8; i++) block[offset + i] = (byte)(bits >> (56 - 8 * i));
        }

        /// <summary>GHASH_H(data zero-padded to whole blocks, then the lengths block).</summary>
        static byte[] Ghash(byte[] h, byte[] data, byte[] lengths)
        {
            ulong hHigh = Read(h, 0), hLow = Read(h, 8), yHigh = 0, yLow = 0;
            for (int offset = 0; offset < data.Length; offset += 16)
            {
                var block = new byte[16];
                Buffer.BlockCopy(data, offset, block, 0, Math.Min(16, data.Length - offset));
                Multiply(ref yHigh, ref yLow, Read(block, 0), Read(block, 8), hHigh, hLow);
            }
            Multiply(ref yHigh, ref yLow, Read(lengths, 0), Read(lengths, 8), hHigh, hLow);
            var output = new byte[16];
            for (int i = 0; i < 8; i++)
            {
                output[i] = (byte)(yHigh >> (56 - 8 * i));
                output[8 + i] = (byte)(yLow >> (56 - 8 * i));
            }
            return output;
        }

        static ulong Read(byte[] bytes, int offset)
        {
            ulong value = 0;
            for (int i = 0; i < 8; i++) value = (value << 8) | bytes[offset + i];
            return value;
        }

        /// <summary>Y = (Y xor X) * H in GF(2^128), SP 800-38D algorithm 1, without secret-dependent branches.</summary>
        static void Multiply(ref ulong yHigh, ref ulong yLow, ulong xHigh, ulong xLow, ulong hHigh, ulong hLow)
        {
            ulong aHigh = yHigh ^ xHigh, aLow = yLow ^ xLow;
            ulong zHigh = 0, zLow = 0, vHigh = hHigh, vLow = hLow;
            for (int i = 0; i < 128; i++)
            {
                ulong bit = i < 64 ? (aHigh >> (63 - i)) & 1 : (aLow >> (127 - i)) & 1;
                ulong take = 0UL - bit;
                zHigh ^= vHigh & take;
                zLow ^= vLow & take;
                ulong carry = 0UL - (vLow & 1);
                vLow = (vLow >> 1) | (vHigh << 63);
                vHigh = (vHigh >> 1) ^ (0xE100000000000000UL & carry);
            }
            yHigh = zHigh;
            yLow = zLow;
        }
    }

    /// <summary>
    /// Ed25519 signature verification (RFC 8032 section 5.1.7) with System.Numerics.BigInteger: Mono has
    /// no Ed25519. Verification handles only public data, so plain big-integer arithmetic is safe here.
    /// Checked against RFC 8032's test vectors and KeyLedger's own signatures.
    /// </summary>
    public static class Ed25519
    {
        static readonly BigInteger P = BigInteger.Pow(2, 255) - 19;
        static readonly BigInteger L = BigInteger.Pow(2, 252) + BigInteger.Parse("27742317777372353535851937790883648493");
        static readonly BigInteger D = Mod(-121665 * Inverse(121666));
        static readonly BigInteger SqrtM1 = BigInteger.ModPow(2, (P - 1) / 4, P);
        static readonly BigInteger[] Base = BasePoint();

        public static bool Verify(byte[] publicKey, byte[] message, byte[] signature)
        {
            if (publicKey.Length != 32 || signature.Length != 64) return false;
            BigInteger[] a = Decompress(publicKey);
            var rBytes = new byte[32];
            Buffer.BlockCopy(signature, 0, rBytes, 0, 32);
            BigInteger[] r = Decompress(rBytes);
            var sBytes = new byte[32];
            Buffer.BlockCopy(signature, 32, sBytes, 0, 32);
            BigInteger s = FromLittleEndian(sBytes);
            if (a == null || r == null || s >= L) return false;
            byte[] digest;
            using (var sha = SHA512.Create())
            {
                var input = new byte[64 + message.Length];
                Buffer.BlockCopy(rBytes, 0, input, 0, 32);
                Buffer.BlockCopy(publicKey, 0, input, 32, 32);
                Buffer.BlockCopy(message, 0, input, 64, message.Length);
                digest = sha.ComputeHash(input);
            }
            BigInteger h = FromLittleEndian(digest) % L;
            return Equal(Multiply(s, Base), Add(r, Multiply(h, a)));
        }

        static BigInteger Mod(BigInteger value)
        {
            BigInteger result = value % P;
            return result.Sign < 0 ? result + P : result;
        }

        static BigInteger Inverse(BigInteger value) { return BigInteger.ModPow(Mod(value), P - 2, P); }

        static BigInteger FromLittleEndian(byte[] bytes)
        {
            var unsigned = new byte[bytes.Length + 1]; // a trailing zero keeps BigInteger positive
            Buffer.BlockCopy(bytes, 0, unsigned, 0, bytes.Length);
            return new BigInteger(unsigned);
        }

        static BigInteger RecoverX(BigInteger y, int sign)
        {
            if (y >= P) return -1;
            BigInteger x2 = Mod((y * y - 1) * Inverse(D * y * y + 1));
            if (x2.IsZero) return sign == 0 ? BigInteger.Zero : -1;
            BigInteger x = BigInteger.ModPow(x2, (P + 3) / 8, P);
            if (!Mod(x * x - x2).IsZero) x = Mod(x * SqrtM1);
            if (!Mod(x * x - x2).IsZero) return -1;
            if ((int)(x & 1) != sign) x = P - x;
            return x;
        }

        static BigInteger[] Decompress(byte[] bytes)
        {
            var copy = (byte[])bytes.Clone();
            int sign = copy[31] >> 7;
            copy[31] &= 0x7f;
            BigInteger y = FromLittleEndian(copy);
            BigInteger x = RecoverX(y, sign);
            if (x.Sign < 0) return null;
            return new[] { x, y, BigInteger.One, Mod(x * y) };
        }

        static BigInteger[] BasePoint()
        {
            BigInteger y = Mod(4 * Inverse(5));
            BigInteger x = RecoverX(y, 0);
            return new[] { x, y, BigInteger.One, Mod(x * y) };
        }

        static BigInteger[] Add(BigInteger[] p, BigInteger[] q)
        {
            BigInteger a = Mod((p[1] - p[0]) * (q[1] - q[0])), b = Mod((p[1] + p[0]) * (q[1] + q[0]));
            BigInteger c = Mod(p[3] * 2 * D * q[3]), d = Mod(p[2] * 2 * q[2]);
            BigInteger e = b - a, f = d - c, g = d + c, h = b + a;
            return new[] { Mod(e * f), Mod(g * h), Mod(f * g), Mod(e * h) };
        }

        static BigInteger[] Multiply(BigInteger scalar, BigInteger[] point)
        {
            BigInteger[] result = { BigInteger.Zero, BigInteger.One, BigInteger.One, BigInteger.Zero };
            while (scalar > 0)
            {
                if (!scalar.IsEven) result = Add(result, point);
                point = Add(point, point);
                scalar >>= 1;
            }
            return result;
        }

        static bool Equal(BigInteger[] p, BigInteger[] q)
        {
            return Mod(p[0] * q[2] - q[0] * p[2]).IsZero && Mod(p[1] * q[2] - q[1] * p[2]).IsZero;
        }
    }
}
