using System.Diagnostics;

namespace RsMoe.Cli.Tests.Support;

/// <summary>Runs the real <c>rsmoe</c> executable beside the tests, as a user would, and collects what it printed.</summary>
public static class RsmoeProcess
{
    public static (int ExitCode, string Stdout, string Stderr) Run(params string[] args) => Run(TimeSpan.FromMinutes(2), args);

    public static (int ExitCode, string Stdout, string Stderr) Run(TimeSpan timeout, params string[] args)
    {
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "rsmoe"))
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(timeout), $"rsmoe did not finish in {timeout}");
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
