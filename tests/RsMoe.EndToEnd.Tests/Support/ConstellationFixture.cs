using Grpc.Net.Client;
using RsMoe.Constellation;
using RsMoe.Model.Moe;

namespace RsMoe.EndToEnd.Tests.Support;

/// <summary>
/// The constellation as <c>rsmoe up</c> starts it: every service its own process on loopback, with a private
/// redis-server (CI installs it; these tests need it).
/// </summary>
public class ConstellationFixture : IAsyncLifetime
{
    public LocalConstellation Constellation { get; private set; } = null!;
    public GrpcChannel Gateway { get; private set; } = null!;
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(120) };

    public static string ModelDirectory => ModelLocator.DefaultModelDirectory();
    public static string Sample(string name) => Path.Combine(ModelDirectory, "samples", name + ".png");

    /// <summary>Per-service settings for this fixture (e.g. a short expert deadline for fault tests).</summary>
    protected virtual IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Settings => new Dictionary<string, IReadOnlyDictionary<string, string>>();
    protected virtual IReadOnlyDictionary<string, int> ExpertReplicas => new Dictionary<string, int>();
    /// <summary>The model folder served; null for the embedded default.</summary>
    protected virtual string? ServedModel => null;

    public async Task InitializeAsync()
    {
        if (!File.Exists("/usr/bin/redis-server") && !File.Exists("/usr/local/bin/redis-server"))
            throw new InvalidOperationException("these tests need redis-server (apt-get install -y redis-server; .ci/run installs it)");
        Constellation = await LocalConstellation.StartAsync(new ConstellationOptions
        {
            ModelDirectory = ServedModel,
            GatewayHttpPort = 0,
            GatewayGrpcPort = 0,
            Redis = "auto",
            Environment = Settings,
            ExpertReplicas = ExpertReplicas,
            LogDirectory = Directory.CreateTempSubdirectory("rsmoe-e2e-").FullName,
        });
        Assert.StartsWith("redis", Constellation.Cache);
        Http.BaseAddress = new Uri(Constellation.GatewayUrl);
        Gateway = GrpcChannel.ForAddress(Constellation.GatewayGrpcUrl, new GrpcChannelOptions { MaxSendMessageSize = 64 << 20 });
    }

    /// <summary>A counter from a service's Prometheus endpoint (summed over its label sets); 0 when not yet recorded.</summary>
    public async Task<double> MetricAsync(string service, string name)
    {
        var text = await Http.GetStringAsync($"{Constellation.Service(service).HttpAddress}/metrics");
        return text.Split('\n').Where(l => l.StartsWith(name + "{") || l.StartsWith(name + " "))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Restarts a stopped service and waits until it is healthy and the gateway's YARP has it back in rotation: for an
    /// expert, until the gateway lists every replica of its role healthy (its active check passed and any circuit that
    /// opened while it was down has half-opened); for the encoders, until a question about a new image is answered.
    /// </summary>
    int _probeImages;

    public async Task RestartAsync(string service)
    {
        var process = Constellation.Service(service);
        process.Start();
        await process.WaitHealthyAsync(Http, TimeSpan.FromSeconds(60), CancellationToken.None);
        if (!service.StartsWith("expert-", StringComparison.Ordinal))
        {
            var captioner = new RsMoe.Contracts.V1.Captioner.CaptionerClient(Gateway);
            for (var clock = System.Diagnostics.Stopwatch.StartNew(); clock.Elapsed < TimeSpan.FromSeconds(40); await Task.Delay(300))
            {
                // A photo no test asks about, so the image encoder is called too.
                var image = Google.Protobuf.ByteString.CopyFrom(File.ReadAllBytes(SharedData.Path(
                    "rsscn7", "images", "aGrass", $"a{200 + Interlocked.Increment(ref _probeImages) % 120:000}.jpg")));
                try
                {
                    await captioner.AskAsync(new RsMoe.Contracts.V1.AskRequest { Image = image, Question = "Is there grass?" }, deadline: DateTime.UtcNow.AddSeconds(20));
                    return;
                }
                catch (Grpc.Core.RpcException e) when (e.StatusCode is Grpc.Core.StatusCode.Unavailable or Grpc.Core.StatusCode.DeadlineExceeded)
                {
                }
            }
            throw new TimeoutException($"the gateway did not take {service} back into rotation within 40 s");
        }
        string role = service["expert-".Length..].Split('-')[0];   // expert-objects-2 → objects
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); clock.Elapsed < TimeSpan.FromSeconds(40); await Task.Delay(200))
        {
            using var listing = System.Text.Json.JsonDocument.Parse(await Http.GetStringAsync("/v1/experts"));
            var expert = listing.RootElement.GetProperty("experts").EnumerateArray().Single(e => e.GetProperty("role").GetString() == role);
            if (expert.GetProperty("healthy_replicas").GetInt32() == expert.GetProperty("replicas").GetInt32() && expert.GetProperty("health").GetString() == "SERVING")
                return;
        }
        throw new TimeoutException($"the gateway did not take {service} back into rotation within 40 s");
    }

    public async Task DisposeAsync()
    {
        Gateway?.Dispose();
        if (Constellation is not null) await Constellation.DisposeAsync();
        Http.Dispose();
    }
}

/// <summary>The same with a short expert deadline and two replicas of the objects expert, for fault tests that stop things.</summary>
public sealed class FaultFixture : ConstellationFixture
{
    protected override IReadOnlyDictionary<string, int> ExpertReplicas => new Dictionary<string, int> { ["objects"] = 2 };

    protected override IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Settings => new Dictionary<string, IReadOnlyDictionary<string, string>>
    {
        ["gateway"] = new Dictionary<string, string>
        {
            ["Gateway__ExpertTimeout"] = "00:00:08",
            // No active checks on the replicated expert, so its dead replica is found by retries and the circuit breaker
            // alone (a probe landing during the test, even once a minute, took it out of rotation first now and then).
            ["ReverseProxy__Clusters__expert-objects__HealthCheck__Active__Enabled"] = "false",
            ["Gateway__ImageEncoderTimeout"] = "00:00:08",
        },
        // Slow enough that a drain test can stop it mid-generation.
        ["expert-relationships"] = new Dictionary<string, string> { ["Expert__TokenDelay"] = "00:00:00.030" },
    };
}

/// <summary>The constellation with API keys required and a small rate limit, for access tests.</summary>
public sealed class SecuredFixture : ConstellationFixture
{
    public const string UserKey = "rsmoe-test-user-4f1c9a7e2b";
    public const string OperatorKey = "rsmoe-test-operator-8d2e6b1f0c";
    public const string LimitedKey = "rsmoe-test-limited-3a9b7c5d1e";

    static string Hash(string key) => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key))).ToLowerInvariant();

    protected override IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Settings => new Dictionary<string, IReadOnlyDictionary<string, string>>
    {
        ["gateway"] = new Dictionary<string, string>
        {
            ["Access__RequireApiKey"] = "true",
            ["Access__ApiKeys__0__Name"] = "user",
            ["Access__ApiKeys__0__Sha256"] = Hash(UserKey),
            ["Access__ApiKeys__1__Name"] = "operator",
            ["Access__ApiKeys__1__Sha256"] = Hash(OperatorKey),
            ["Access__ApiKeys__1__Operator"] = "true",
            ["Access__ApiKeys__2__Name"] = "limited",
            ["Access__ApiKeys__2__Sha256"] = Hash(LimitedKey),
            // A generous limit for every key, a small one of its own for the limited key: the other access tests,
            // which run quickly one after another, never meet a limit they are not testing.
            ["Access__RequestsPerMinute"] = "6000",
            ["Access__Burst"] = "200",
            ["Access__ApiKeys__2__RequestsPerMinute"] = "45",   // not a multiple of 60: one request every 1.33 s
            ["Access__ApiKeys__2__Burst"] = "5",
        },
    };
}

/// <summary>Tests that share one running constellation.</summary>
[CollectionDefinition(Name)]
public sealed class ConstellationCollection : ICollectionFixture<ConstellationFixture>
{
    public const string Name = "constellation";
}

/// <summary>Tests that stop and freeze services share one constellation of their own.</summary>
[CollectionDefinition(Name)]
public sealed class FaultCollection : ICollectionFixture<FaultFixture>
{
    public const string Name = "faults";
}

/// <summary>A constellation serving a model with four experts.</summary>
[CollectionDefinition(Name)]
public sealed class FourExpertCollection : ICollectionFixture<FourExpertFixture>
{
    public const string Name = "four-experts";
}

/// <summary>Access tests share one constellation that requires keys.</summary>
[CollectionDefinition(Name)]
public sealed class SecuredCollection : ICollectionFixture<SecuredFixture>
{
    public const string Name = "secured";
}

/// <summary>
/// The constellation serving a four-expert model (theme, objects, positions, relations), trained here in seconds on
/// generated scenes by <c>rsmoe train</c>'s trainer; nothing in the launcher or the gateway is told about the fourth expert.
/// </summary>
public sealed class FourExpertFixture : ConstellationFixture
{
    protected override string? ServedModel { get; } = TrainFourExperts();

    static string TrainFourExperts()
    {
        string root = Directory.CreateTempSubdirectory("rsmoe-four-experts-").FullName;
        string data = Path.Combine(root, "synth");
        RsMoe.Data.Synthetic.SyntheticBenchmark.Write(data, 24, seed: 5);
        var config = RsMoe.Training.TrainingConfig.Preset("ci") with
        {
            Data = data, Output = Path.Combine(root, "run"), FeatureCache = Path.Combine(root, "features"), TrainImages = 16, Experts = 4, MaxSteps = 2, Stage2MaxSteps = 4,
        };
        return new RsMoe.Training.Trainer(config, _ => { }).Run().ModelDirectory;
    }
}

/// <summary>A constellation serving a paper-scale model (InstructBLIP vision and Q-Former, a Llama) trained here on shrunk checkpoints.</summary>
[CollectionDefinition(Name)]
public sealed class PaperScaleCollection : ICollectionFixture<PaperScaleFixture>
{
    public const string Name = "paper-scale";
}

/// <summary>
/// The paper's code path at shrunk shapes, as a user meets it: <c>rsmoe train</c>'s trainer on InstructBLIP and Llama
/// checkpoints in Hugging Face layouts, then <c>rsmoe up --model</c> with nothing else said about the backbone.
/// </summary>
public sealed class PaperScaleFixture : ConstellationFixture
{
    public string Root { get; } = Directory.CreateTempSubdirectory("rsmoe-paper-scale-").FullName;
    public string Data => Path.Combine(Root, "synth");
    public string Model { get; }
    protected override string? ServedModel => Model;

    public PaperScaleFixture()
    {
        RsMoe.Data.Synthetic.SyntheticBenchmark.Write(Data, 16, seed: 5);
        var (blip, llm) = ShrunkPaperCheckpoints.Write(Root);
        var config = new RsMoe.Training.TrainingConfig
        {
            Stage = "two-stage", ImageEncoder = "instructblip", InstructBlip = blip, Llm = llm, Stage1Lora = true,
            Data = Data, Output = Path.Combine(Root, "run"), TrainImages = 8, BatchSize = 4, Epochs = 1, Stage2Epochs = 1, MaxSteps = 2,
        };
        Model = new RsMoe.Training.Trainer(config, _ => { }).Run().ModelDirectory;
    }
}
