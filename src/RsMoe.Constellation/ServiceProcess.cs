using System.Diagnostics;
using System.Runtime.InteropServices;

namespace RsMoe.Constellation;

/// <summary>One service of the local constellation: a child process on loopback, its ports and its log file.</summary>
public sealed class ServiceProcess : IDisposable
{
    public string Name { get; }
    public string Assembly { get; }
    public int GrpcPort { get; private set; }
    public int HttpPort { get; private set; }
    public string LogPath { get; }
    /// <summary>Configuration given to the process as environment variables (read at each start).</summary>
    public IDictionary<string, string> Environment { get; }
    Process? _process;
    StreamWriter? _log;

    public ServiceProcess(string name, string assembly, int grpcPort, int httpPort, string logPath, IDictionary<string, string> environment)
    {
        Name = name;
        Assembly = assembly;
        GrpcPort = grpcPort;
        HttpPort = httpPort;
        LogPath = logPath;
        Environment = environment;
    }

    public string GrpcAddress => $"http://127.0.0.1:{GrpcPort}";
    public string HttpAddress => $"http://127.0.0.1:{HttpPort}";
    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;
    public bool IsRunning => _process is { HasExited: false };

    public void Start()
    {
        if (IsRunning) return;
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(Assembly)!,   // its appsettings.json is the content root's
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Assembly);
        foreach (var (key, value) in Environment) info.Environment[key] = value;
        info.Environment["Service__Bind"] = "127.0.0.1";
        info.Environment["Service__GrpcPort"] = GrpcPort.ToString();
        info.Environment["Service__HttpPort"] = HttpPort.ToString();
        info.Environment["DOTNET_NOLOGO"] = "1";
        // Few glibc malloc arenas: libtorch's allocations from many thread-pool threads otherwise fragment into
        // slowly growing resident memory (measured: about 5 MiB a minute per expert under load; flat with 2).
        info.Environment["MALLOC_ARENA_MAX"] = "2";
        // Workstation GC: on a few cores the server GC's per-core heaps only grow the footprint of these small services.
        info.Environment["DOTNET_gcServer"] = "0";
        // If the launcher is killed outright, each service notices and stops (see ServiceDefaults' ParentProcessWatch).
        info.Environment["RSMOE_PARENT_PID"] = System.Environment.ProcessId.ToString();
        _log?.Dispose();
        _log = new StreamWriter(new FileStream(LogPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        var log = _log;
        _process = new Process { StartInfo = info, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Waits until <c>/healthz/ready</c> answers (model loaded, warm-up run); fails early, with the log's tail, when the process exits.</summary>
    public async Task WaitHealthyAsync(HttpClient http, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_process is null || _process.HasExited)
            {
                _process?.WaitForExit();   // the last output lines reach the log before it is read
                // Kestrel's bind failure is followed by two long stack traces: look well above the last lines for it.
                if (Tail(400).Contains("address already in use", StringComparison.OrdinalIgnoreCase)) throw new PortTakenException(Name);
                throw new InvalidOperationException($"{Name} exited (code {_process?.ExitCode}) before it was healthy. Its log ({LogPath}) ends:\n{Tail(20)}");
            }
            try
            {
                using var response = await http.GetAsync($"{HttpAddress}/healthz/ready", cancellationToken);
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }
            // A probe slower than the client's timeout (a loaded machine, a service still warming up) is asked again, not fatal.
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested) { }
            await Task.Delay(100, cancellationToken);
        }
        throw new TimeoutException($"{Name} was not healthy within {timeout.TotalSeconds:F0} s. Its log ({LogPath}) ends:\n{Tail(20)}");
    }

    /// <summary>New ports after another program took one between choosing and binding.</summary>
    public void MoveTo(int grpcPort, int httpPort)
    {
        if (IsRunning) throw new InvalidOperationException($"{Name} is running");
        (GrpcPort, HttpPort) = (grpcPort, httpPort);
    }

    public string Tail(int lines)
    {
        try
        {
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var all = new StreamReader(stream).ReadToEnd().Split('\n');
            return string.Join('\n', all.TakeLast(lines));
        }
        catch (IOException) { return ""; }
    }

    [DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int signal);

    /// <summary>SIGTERM (the service drains in-flight requests), then a kill if it has not gone within the grace period.</summary>
    public void Stop(TimeSpan grace)
    {
        if (_process is not { HasExited: false } process) return;
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()) kill(process.Id, 15);
        else process.Kill(entireProcessTree: true);
        if (!process.WaitForExit(grace)) process.Kill(entireProcessTree: true);
        process.WaitForExit();
    }

    /// <summary>Freezes the process (SIGSTOP): it holds its connections but answers nothing, like a hung service.</summary>
    public void Freeze() { if (_process is { HasExited: false } p) kill(p.Id, 19); }

    /// <summary>Lets a frozen process run again (SIGCONT).</summary>
    public void Thaw() { if (_process is { HasExited: false } p) kill(p.Id, 18); }

    /// <summary>Kills at once, as a crash would.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
    }

    public void Dispose()
    {
        Stop(TimeSpan.FromSeconds(5));
        _process?.Dispose();
        _log?.Dispose();
    }
}

/// <summary>A service could not bind a port chosen for it (another program took it first).</summary>
public sealed class PortTakenException(string service) : Exception($"{service}: its port was taken before it could bind")
{
    public string Service { get; } = service;
}
