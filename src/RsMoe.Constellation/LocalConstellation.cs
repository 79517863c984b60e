using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using RsMoe.Model.Moe;

namespace RsMoe.Constellation;

/// <summary>What <c>rsmoe up</c> starts: the model folder, the gateway's ports, Redis or not.</summary>
public sealed record ConstellationOptions
{
    /// <summary>RS-MoE model folder; null for the embedded default.</summary>
    public string? ModelDirectory { get; init; }
    /// <summary>The gateway's REST/web port (0 picks a free one); its gRPC port is the next free one.</summary>
    public int GatewayHttpPort { get; init; } = 5080;
    public int GatewayGrpcPort { get; init; } = 5081;
    /// <summary>"auto": start a private redis-server when one is installed, else the in-process cache; "off"; or a connection string.</summary>
    public string Redis { get; init; } = "auto";
    /// <summary>Where the service logs go.</summary>
    public string? LogDirectory { get; init; }
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(120);
    /// <summary>Extra configuration per service name (e.g. <c>Gateway__ExpertTimeout</c> for the gateway).</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Environment { get; init; } = new Dictionary<string, IReadOnlyDictionary<string, string>>();
    /// <summary>Replicas per expert role (default 1); replica k of role r is the service <c>expert-r-k</c> (k ≥ 2).</summary>
    public IReadOnlyDictionary<string, int> ExpertReplicas { get; init; } = new Dictionary<string, int>();
}

/// <summary>
/// The whole constellation on this machine as separate processes on loopback: image encoder, VLM encoder + router,
/// one expert per role and the gateway (whose YARP clusters point at them), plus a private Redis when installed.
/// Services are the built assemblies next to this program's build (<c>dotnet build</c> first).
/// </summary>
public sealed class LocalConstellation : IAsyncDisposable
{
    /// <summary>The served model's experts (its router's roles), one process each.</summary>
    public IReadOnlyList<string> ExpertRoles { get; private set; } = [];

    readonly List<ServiceProcess> _services = [];
    /// <summary>Which YARP cluster and destination key each backend process is.</summary>
    readonly Dictionary<string, (string Cluster, string Destination)> _destinations = [];
    Process? _redis;
    public IReadOnlyList<ServiceProcess> Services => _services;

    /// <summary>The last warnings, errors and exceptions the services whose names start with one of <paramref name="names"/> logged, for a failing test's message.</summary>
    public string ProblemsLogged(params string[] names) => string.Join('\n', _services
        .Where(service => names.Any(n => service.Name.StartsWith(n, StringComparison.Ordinal)))
        .Select(service => $"--- {service.Name} ({service.LogPath})\n" + string.Join('\n', service.Tail(2000).Split('\n')
            .Where(line => line.Contains("warn:") || line.Contains("fail:") || line.Contains("crit:") || line.Contains("Exception")).TakeLast(12))));
    public ServiceProcess Gateway => Service("gateway");
    public string GatewayUrl => Gateway.HttpAddress;
    public string GatewayGrpcUrl => Gateway.GrpcAddress;
    /// <summary>"redis 127.0.0.1:PORT" or "in-process".</summary>
    public string Cache { get; private set; } = "in-process";
    public string? RedisConnection { get; private set; }
    public string LogDirectory { get; }
    /// <summary>The secret the gateway presents to the internal services in this run.</summary>
    public string InternalCredential { get; private set; } = "";
    readonly ConstellationOptions _options;

    LocalConstellation(ConstellationOptions options)
    {
        _options = options;
        LogDirectory = options.LogDirectory ?? Path.Combine(Path.GetTempPath(), $"rsmoe-up-{System.Environment.ProcessId}");
        Directory.CreateDirectory(LogDirectory);
    }

    public ServiceProcess Service(string name) => _services.First(s => s.Name == name);

    public static async Task<LocalConstellation> StartAsync(ConstellationOptions options, Action<string>? progress = null, CancellationToken cancellationToken = default)
    {
        var constellation = new LocalConstellation(options);
        try
        {
            await constellation.StartAllAsync(progress ?? (_ => { }), cancellationToken);
            return constellation;
        }
        catch
        {
            await constellation.DisposeAsync();
            throw;
        }
    }

    async Task StartAllAsync(Action<string> progress, CancellationToken cancellationToken)
    {
        string model = ModelLocator.Resolve(_options.ModelDirectory);
        ExpertRoles = RsMoe.Model.Moe.ModelFolder.LoadConfig(model).Router.ExpertRoles;
        StartRedis(progress);
        // A fresh internal credential for this run: the services accept only the gateway, which presents it.
        InternalCredential = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)).ToLowerInvariant();
        var modelEnv = new Dictionary<string, string>
        {
            ["ImageEncoder__ModelDirectory"] = model, ["VlmEncoder__ModelDirectory"] = model, ["Expert__ModelDirectory"] = model,
            ["Internal__Credential"] = InternalCredential,
        };
        Add("image-encoder", Built(ImageEncoderProject), modelEnv);
        Add("vlm-encoder", Built(VlmEncoderProject), modelEnv);
        foreach (var role in ExpertRoles)
        {
            int replicas = _options.ExpertReplicas.TryGetValue(role, out int n) ? Math.Max(1, n) : 1;
            for (int k = 1; k <= replicas; k++)
            {
                string name = k == 1 ? $"expert-{role}" : $"expert-{role}-{k}";
                Add(name, Built(ExpertProject), new Dictionary<string, string>(modelEnv) { ["Expert__Role"] = role });
                _destinations[name] = ($"expert-{role}", k == 1 ? "primary" : $"replica{k}");
            }
        }
        int httpPort = _options.GatewayHttpPort == 0 ? FreePort() : _options.GatewayHttpPort;
        int grpcPort = _options.GatewayGrpcPort == 0 ? FreePort() : _options.GatewayGrpcPort;
        var gatewayEnv = new Dictionary<string, string> { ["Cache__Redis"] = RedisConnection ?? "", ["Internal__Credential"] = InternalCredential };
        // The gateway learns the experts from the VLM encoder; told them up front, it lists them right from its first request.
        foreach (var (role, i) in ExpertRoles.Select((r, i) => (r, i))) gatewayEnv[$"Gateway__ExpertRoles__{i}"] = role;
        Add("gateway", Built(GatewayProject), gatewayEnv, grpcPort, httpPort);

        // Backends start together; the gateway last (its YARP clusters pointing at them), so its first probes find them up.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var backends = _services.Where(s => s.Name != "gateway").ToList();
        foreach (var service in backends) service.Start();
        foreach (var service in backends) await WaitAsync(service, fixedPorts: false);
        foreach (var backend in backends)
        {
            var (cluster, destination) = _destinations.TryGetValue(backend.Name, out var d) ? d : (backend.Name, "primary");
            Gateway.Environment[$"ReverseProxy__Clusters__{cluster}__Destinations__{destination}__Address"] = backend.GrpcAddress;
        }
        Gateway.Start();
        await WaitAsync(Gateway, fixedPorts: _options.GatewayHttpPort != 0);

        async Task WaitAsync(ServiceProcess service, bool fixedPorts)
        {
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    await service.WaitHealthyAsync(http, _options.StartTimeout, cancellationToken);
                    break;
                }
                catch (PortTakenException) when (attempt < 4 && !fixedPorts)
                {
                    // Another program bound the port between our choosing and the service binding it: choose again.
                    service.MoveTo(FreePort(), FreePort());
                    service.Start();
                }
            }
            progress($"{service.Name,-22} healthy  grpc {service.GrpcAddress}  (log {service.LogPath})");
        }
    }

    void Add(string name, string assembly, IReadOnlyDictionary<string, string> environment, int grpcPort = 0, int httpPort = 0)
    {
        var env = new Dictionary<string, string>(environment);
        if (_options.Environment.TryGetValue(name, out var extra)) foreach (var (k, v) in extra) env[k] = v;
        _services.Add(new ServiceProcess(name, assembly, grpcPort == 0 ? FreePort() : grpcPort, httpPort == 0 ? FreePort() : httpPort,
            Path.Combine(LogDirectory, name + ".log"), env));
    }

    void StartRedis(Action<string> progress)
    {
        if (_options.Redis == "off") return;
        if (_options.Redis != "auto")
        {
            RedisConnection = _options.Redis;
            Cache = $"redis {_options.Redis}";
            return;
        }
        string? server = FindOnPath("redis-server");
        if (server is null)
        {
            progress("redis-server is not installed: visual features are cached in the gateway's process");
            return;
        }
        _redisServer = server;
        _redisPort = FreePort();
        LaunchRedis(progress);
    }

    string? _redisServer;
    int _redisPort;

    /// <summary>The private Redis's memory bound (visual features are 100 KB each for the default model, a few MiB at paper scale).</summary>
    public const string RedisMaxMemory = "256mb";

    void LaunchRedis(Action<string> progress)
    {
        string server = _redisServer!;
        int port = _redisPort;
        // Under a small shell that stops Redis when this launcher is gone, even if the launcher is killed outright.
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"\"$0\" \"$@\" & r=$!; trap 'kill $r 2>/dev/null' EXIT; " +
                              $"while kill -0 {System.Environment.ProcessId} 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 1; done");
        info.ArgumentList.Add(server);
        foreach (var arg in new[] { "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning",
                     // Bounded: the least recently used features go first when the cache is full.
                     "--maxmemory", RedisMaxMemory, "--maxmemory-policy", "allkeys-lru" })
            info.ArgumentList.Add(arg);
        _redis = Process.Start(info)!;
        _redis.OutputDataReceived += (_, _) => { };   // drained, so its pipe never fills
        _redis.ErrorDataReceived += (_, _) => { };
        _redis.BeginOutputReadLine();
        _redis.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, port);
                RedisConnection = $"127.0.0.1:{port}";
                Cache = $"redis {RedisConnection}";
                progress($"{"redis",-22} ready    {RedisConnection} (no persistence)");
                return;
            }
            catch (SocketException)
            {
                if (_redis.HasExited) break;
                Thread.Sleep(50);
            }
        }
        throw new InvalidOperationException("redis-server did not start");
    }

    /// <summary>
    /// The private Redis's INFO fields (memory, evictions, hits and misses), or none without one. One inline command over
    /// RESP: the launcher carries no Redis client for this alone.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, string>> RedisInfoAsync(CancellationToken cancellationToken = default)
    {
        var info = new Dictionary<string, string>();
        if (_redisServer is null || _redis is not { HasExited: false }) return info;
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, _redisPort, cancellationToken);
        var stream = client.GetStream();
        await stream.WriteAsync("INFO\r\n"u8.ToArray(), cancellationToken);
        using var reader = new StreamReader(stream, System.Text.Encoding.UTF8);
        string header = await reader.ReadLineAsync(cancellationToken) ?? "";
        if (!header.StartsWith('$') || !int.TryParse(header[1..], out int length)) throw new InvalidDataException($"unexpected INFO reply '{header}'");
        var body = new char[length];
        for (int read = 0; read < length;)
        {
            int n = await reader.ReadAsync(body.AsMemory(read), cancellationToken);
            if (n == 0) break;
            read += n;
        }
        foreach (var line in new string(body).Split("\r\n"))
            if (line.IndexOf(':') is > 0 and var colon && !line.StartsWith('#')) info[line[..colon]] = line[(colon + 1)..];
        return info;
    }

    /// <summary>Stops Redis as a crash would (the gateway must bypass it); for fault tests.</summary>
    public void KillRedis()
    {
        if (_redis is { HasExited: false }) { _redis.Kill(entireProcessTree: true); _redis.WaitForExit(); }
    }

    /// <summary>Freezes Redis (SIGSTOP): connections stay open but nothing answers, like an overloaded server.</summary>
    public void FreezeRedis() => SignalRedisServer("-STOP");

    public void ThawRedis() => SignalRedisServer("-CONT");

    void SignalRedisServer(string signal)
    {
        if (_redis is not { HasExited: false } shell) throw new InvalidOperationException("the private redis-server is not running");
        // The server is the shell's child.
        string children = File.ReadAllText($"/proc/{shell.Id}/task/{shell.Id}/children").Trim();
        foreach (var pid in children.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            Process.Start("kill", [signal, pid])!.WaitForExit();
    }

    /// <summary>Starts the private Redis again on its port (empty: it keeps nothing).</summary>
    public void RestartRedis()
    {
        if (_redisServer is null) throw new InvalidOperationException("no private redis-server was started");
        if (_redis is { HasExited: false }) return;
        _redis?.Dispose();
        LaunchRedis(_ => { });
    }

    static string? FindOnPath(string program) =>
        (System.Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(dir => Path.Combine(dir, program)).FirstOrDefault(File.Exists);

    /// <summary>
    /// Fails now, naming the build to run, when a service or the gateway is not built: a long benchmark calls it before
    /// it measures anything rather than when it reaches the constellation.
    /// </summary>
    public static void EnsureBuilt()
    {
        foreach (var project in new[] { ImageEncoderProject, VlmEncoderProject, ExpertProject, GatewayProject }) Built(project);
    }

    // The projects the constellation starts: (folder, project name).
    static readonly (string Folder, string Name) ImageEncoderProject = ("services", "RsMoe.ImageEncoder"),
        VlmEncoderProject = ("services", "RsMoe.VlmEncoder"), ExpertProject = ("services", "RsMoe.Expert"), GatewayProject = ("gateway", "RsMoe.Gateway");

    static string Built((string Folder, string Name) project) => BuiltAssembly(project.Folder, project.Name);

    /// <summary>A project's built assembly in this checkout (a service, or the rsmoe command), in the configuration this launcher was built in.</summary>
    public static string BuiltAssembly(string folder, string name, string? assemblyName = null)
    {
        string configuration = typeof(LocalConstellation).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        string path = Path.Combine(RepositoryRoot(), folder, name, "bin", configuration, "net10.0", (assemblyName ?? name) + ".dll");
        if (!File.Exists(path)) throw new FileNotFoundException($"{name} is not built ({path}); run: dotnet build RsMoe.Micro.sln -c {configuration}", path);
        return path;
    }

    /// <summary>
    /// A free loopback port below the kernel's ephemeral range (32768 and up on Linux), so outgoing connections, which
    /// take ephemeral ports, cannot grab it before the service binds it.
    /// </summary>
    public static int FreePort()
    {
        for (int attempt = 0; attempt < 200; attempt++)
        {
            int port = Random.Shared.Next(20000, 32000);
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException) { }
        }
        using var any = new TcpListener(IPAddress.Loopback, 0);
        any.Start();
        return ((IPEndPoint)any.LocalEndpoint).Port;
    }

    static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "RsMoe.Micro.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("the repository (RsMoe.Micro.sln) was not found above this program");
    }

    public async ValueTask DisposeAsync()
    {
        // The gateway first, so nothing new reaches the backends while they drain; then the backends together.
        var gateway = _services.FirstOrDefault(s => s.Name == "gateway");
        if (gateway is not null) await Task.Run(gateway.Dispose);
        await Task.WhenAll(_services.Where(s => s != gateway).Select(s => Task.Run(s.Dispose)));
        if (_redis is { HasExited: false }) { _redis.Kill(entireProcessTree: true); await _redis.WaitForExitAsync(); }
        _redis?.Dispose();
    }
}
