using System.Diagnostics;
using System.Text.Json;

namespace RsMoe.Benchmarks;

/// <summary>
/// Runs one benchmark configuration in a child <c>rsmoe</c> process (its own memory peak, its own thread settings, no
/// JIT or allocator state from the previous row) and reads the JSON row it prints last.
/// </summary>
public static class BenchmarkProcess
{
    public static T Run<T>(IReadOnlyDictionary<string, string>? environment, params string[] arguments)
    {
        var start = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        string self = Environment.ProcessPath!;
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") { start.FileName = self; start.ArgumentList.Add(System.Reflection.Assembly.GetEntryAssembly()!.Location); }
        else start.FileName = self;
        foreach (var a in arguments) start.ArgumentList.Add(a);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;
        using var child = Process.Start(start)!;
        var error = child.StandardError.ReadToEndAsync();
        string output = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        if (child.ExitCode != 0) throw new InvalidOperationException($"benchmark child '{string.Join(' ', arguments)}' failed ({child.ExitCode}): {output}{error.Result}");
        return JsonSerializer.Deserialize<T>(output.Trim().Split('\n')[^1])!;
    }

    /// <summary>This process's peak resident set (VmHWM) in MiB, from /proc; 0 where that is unavailable.</summary>
    public static double PeakRssMiB() => ProcStatusMiB("self", "VmHWM:") ?? 0;

    /// <summary>A process's resident set now (VmRSS) in MiB; null when it has gone or /proc is unavailable.</summary>
    public static double? RssMiB(int pid) => ProcStatusMiB(pid.ToString(), "VmRSS:");

    static double? ProcStatusMiB(string process, string field)
    {
        try
        {
            var line = File.ReadLines($"/proc/{process}/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
            // "VmRSS:\t  242000 kB"; from 10^7 kB on the tab is the only separator, so split on any whitespace.
            return line is null ? null : long.Parse(line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0;
        }
        catch (IOException) { return null; }
    }
}
