using System;
using System.Linq;
using System.Reflection;

namespace LicenseCM.Tests
{
    /// <summary>
    /// A test runner with the base class library only (no NUnit here): every public static void method
    /// named Test* of the test classes runs; any exception fails it. Prints "N passed, N failed".
    /// </summary>
    public static class Runner
    {
        public static int Main(string[] args)
        {
            int passed = 0, failed = 0;
            var tests = typeof(Runner).Assembly.GetTypes().Where(t => t.Namespace == "LicenseCM.Tests")
                .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static))
                .Where(m => m.Name.StartsWith("Test") && m.GetParameters().Length == 0)
                .Where(m => args.Length == 0 || args.Any(a => m.Name.Contains(a)))
                .OrderBy(m => m.DeclaringType.Name).ThenBy(m => m.Name);
            foreach (var test in tests)
            {
                try
                {
                    test.Invoke(null, null);
                    passed++;
                    Console.WriteLine("ok   " + test.DeclaringType.Name + "." + test.Name);
                }
                catch (TargetInvocationException error)
                {
                    failed++;
                    Console.WriteLine("FAIL " + test.DeclaringType.Name + "." + test.Name + ": " + error.InnerException);
                }
            }
            Console.WriteLine(passed + " passed, " + failed + " failed");
            return failed == 0 && passed > 0 ? 0 : 1;
        }
    }

    static class Assert
    {
        public static void That(bool condition, string message)
        {
            if (!condition) throw new Exception(message);
        }

        public static void Equal(object expected, object actual, string message = "")
        {
            if (!Equals(expected, actual)) throw new Exception(message + " expected <" + expected + "> got <" + actual + ">");
        }

        public static LicenseCMException Refused(Action call)
        {
            try { call(); }
            catch (AggregateException error) when (error.InnerException is LicenseCMException) { return (LicenseCMException)error.InnerException; }
            catch (LicenseCMException error) { return error; }
            throw new Exception("no LicenseCMException");
        }
    }
}
