extern alias ExpertHost;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using RsMoe.Contracts.V1;
using RsMoe.Model.Checkpoints;
using RsMoe.Model.Moe;
using RsMoe.Services.FunctionalTests.Support;
using ExpertProgram = ExpertHost::Program;

namespace RsMoe.Services.FunctionalTests;

public sealed class ExpertServiceTests : IClassFixture<DefaultModelFixture>, IDisposable
{
    const string Instruction = "Describe this image in detail.";
    readonly DefaultModel _reference;
    readonly ServiceHost<ExpertProgram> _host = new(new Dictionary<string, string> { ["Expert:Role"] = "objects" });
    readonly string _scratch = Directory.CreateTempSubdirectory("rsmoe-expert-").FullName;
    Expert.ExpertClient Client => new(_host.Channel);

    public ExpertServiceTests(DefaultModelFixture fixture) => _reference = fixture.Model;

    /// <summary>The objects expert's prefix for a sample and the caption the in-process model writes.</summary>
    (RsMoe.Contracts.V1.Tensor Prefix, string Expected) Case(string sample)
    {
        var tokens = _reference.VisualTokens(sample);
        using var visual = TorchSharp.torch.tensor(tokens, [1, 49, 512]);
        using var encoded = _reference.Model.Encode(visual, [Instruction]);
        using var prefix = encoded.ExpertPrefix(0, 1);
        var caption = _reference.Model.Caption(visual, Instruction);
        return (DefaultModel.Wire(prefix.data<float>().ToArray(), prefix.shape), caption.Sections.Single(s => s.Aspect == "objects").Text);
    }

    static GenerateRequest Request(RsMoe.Contracts.V1.Tensor prefix) =>
        new() { Prefix = prefix, Prompt = Instruction, Settings = new GenerationSettings { MaxNewTokens = 80, RepetitionPenalty = 1.1 } };

    [Fact]
    public async Task Generate_writes_what_the_model_writes_in_process()
    {
        var (prefix, expected) = Case("harbor");
        var response = await Client.GenerateAsync(Request(prefix));
        Assert.Equal(expected, response.Text);
        Assert.Equal("objects", response.Role);
        Assert.StartsWith("objects-", response.Version);
        Assert.True(response.GeneratedTokens > 3);
    }

    [Fact]
    public async Task Concurrent_requests_join_one_running_batch_and_each_gets_its_own_section()
    {
        string[] samples = ["harbor", "airport", "forest", "farmland", "industrial", "residential", "parking-lot", "harbor"];
        var cases = samples.Select(Case).ToList();
        // Steps paused 5 ms so the requests overlap however the machine schedules them.
        using var paced = new ServiceHost<ExpertProgram>(new Dictionary<string, string> { ["Expert:Role"] = "objects", ["Expert:TokenDelay"] = "00:00:00.005" });
        var client = new Expert.ExpertClient(paced.Channel);
        var batcher = paced.Services.GetRequiredService<ExpertHost::RsMoe.Expert.ExpertSlot>().Current.Batcher;
        Assert.NotNull(batcher);
        long stepsBefore = batcher.Steps;
        var calls = cases.Concat(cases).Select(c => client.GenerateAsync(Request(c.Prefix)).ResponseAsync).ToList();
        var responses = await Task.WhenAll(calls);
        for (int i = 0; i < responses.Length; i++) Assert.Equal(cases[i % cases.Count].Expected, responses[i].Text);
        Assert.True(batcher.MeanBatch > 1, $"the expert decoded one request at a time (mean batch {batcher.MeanBatch:F2} over {batcher.Steps - stepsBefore} steps)");
    }

    [Fact]
    public async Task Without_batching_each_request_runs_its_own_generation_and_writes_the_same()
    {
        // What a GPU expert does (no CPU decoder batch): MaxBatch 1 takes that path here.
        using var unbatched = new ServiceHost<ExpertProgram>(new Dictionary<string, string> { ["Expert:Role"] = "objects", ["Expert:MaxBatch"] = "1" });
        Assert.Null(unbatched.Services.GetRequiredService<ExpertHost::RsMoe.Expert.ExpertSlot>().Current.Batcher);
        var client = new Expert.ExpertClient(unbatched.Channel);
        var cases = new[] { "harbor", "forest", "airport" }.Select(Case).ToList();
        var responses = await Task.WhenAll(cases.Select(c => client.GenerateAsync(Request(c.Prefix)).ResponseAsync));
        Assert.Equal(cases.Select(c => c.Expected), responses.Select(r => r.Text));
    }

    [Fact]
    public async Task Streaming_sends_tokens_that_add_up_to_the_section()
    {
        var (prefix, expected) = Case("airport");
        using var call = Client.GenerateStream(Request(prefix));
        var pieces = new List<string>();
        GenerateResponse? result = null;
        await foreach (var e in call.ResponseStream.ReadAllAsync())
        {
            if (e.Done) result = e.Result;
            else pieces.Add(e.Text);
        }
        Assert.NotNull(result);
        Assert.Equal(expected, result.Text);
        Assert.True(pieces.Count > 3);
        Assert.Equal(expected, string.Concat(pieces).Trim());
    }

    [Fact]
    public async Task Reload_swaps_the_checkpoint_and_a_bad_one_is_refused_while_the_old_keeps_serving()
    {
        var (prefix, expected) = Case("harbor");
        var before = await Client.InfoAsync(new ExpertInfoRequest());

        // The theme adapter in the objects slot: a different checkpoint, so a different version and text.
        var swapped = await Client.ReloadAsync(new ReloadRequest { AdapterPath = Path.Combine(DefaultModel.Directory, "experts", "theme") });
        Assert.NotEqual(before.Version, swapped.Version);
        Assert.StartsWith("theme-", swapped.Version);
        var changed = await Client.GenerateAsync(Request(prefix));
        Assert.Equal(swapped.Version, changed.Version);
        Assert.NotEqual(expected, changed.Text);

        foreach (var (what, folder) in BadCheckpoints())
        {
            var e = await Assert.ThrowsAsync<RpcException>(async () => await Client.ReloadAsync(new ReloadRequest { AdapterPath = folder }));
            Assert.True(e.StatusCode == StatusCode.FailedPrecondition, $"{what}: {e.StatusCode} {e.Status.Detail}");
            Assert.Contains(folder, e.Status.Detail);
            Assert.Equal(swapped.Version, (await Client.InfoAsync(new ExpertInfoRequest())).Version);
        }

        // An empty path re-reads the configured adapter: back to the original.
        var restored = await Client.ReloadAsync(new ReloadRequest());
        Assert.Equal(before.Version, restored.Version);
        Assert.Equal(expected, (await Client.GenerateAsync(Request(prefix))).Text);
        Assert.Equal(before.Reloads + 2, restored.Reloads);
    }

    [Fact]
    public async Task Requests_in_flight_during_a_reload_finish()
    {
        var (prefix, _) = Case("forest");
        var calls = Enumerable.Range(0, 6).Select(_ => Client.GenerateAsync(Request(prefix)).ResponseAsync).ToList();
        await Client.ReloadAsync(new ReloadRequest { AdapterPath = Path.Combine(DefaultModel.Directory, "experts", "relationships") });
        var more = Enumerable.Range(0, 3).Select(_ => Client.GenerateAsync(Request(prefix)).ResponseAsync).ToList();
        var responses = await Task.WhenAll(calls.Concat(more));   // none fails: each ran on the weights it started with
        Assert.All(responses.Take(6), r => Assert.True(r.Version.StartsWith("objects-") || r.Version.StartsWith("relationships-"), r.Version));
        Assert.All(responses.Skip(6), r => Assert.StartsWith("relationships-", r.Version));
        await Client.ReloadAsync(new ReloadRequest());
    }

    IEnumerable<(string What, string Folder)> BadCheckpoints()
    {
        string source = Path.Combine(DefaultModel.Directory, "experts", "objects");
        yield return ("missing folder", Path.Combine(_scratch, "nowhere"));

        string corrupt = Directory.CreateDirectory(Path.Combine(_scratch, "corrupt")).FullName;
        File.Copy(Path.Combine(source, "adapter_config.json"), Path.Combine(corrupt, "adapter_config.json"));
        File.WriteAllBytes(Path.Combine(corrupt, "adapter_model.safetensors"), new byte[] { 8, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'x' });
        yield return ("corrupt weights", corrupt);

        // Rank 4 in the config, rank 8 in the weights: shapes do not match.
        string mismatched = Directory.CreateDirectory(Path.Combine(_scratch, "mismatched")).FullName;
        File.WriteAllText(Path.Combine(mismatched, "adapter_config.json"), File.ReadAllText(Path.Combine(source, "adapter_config.json")).Replace("\"r\": 8", "\"r\": 4"));
        File.Copy(Path.Combine(source, "adapter_model.safetensors"), Path.Combine(mismatched, "adapter_model.safetensors"));
        yield return ("rank mismatch", mismatched);

        // Right shapes, NaN weights: fails the finite-logits check.
        string poisoned = Directory.CreateDirectory(Path.Combine(_scratch, "nan")).FullName;
        File.Copy(Path.Combine(source, "adapter_config.json"), Path.Combine(poisoned, "adapter_config.json"));
        using (var file = SafetensorsFile.Open(Path.Combine(source, "adapter_model.safetensors")))
        {
            var tensors = file.Entries.Keys.ToDictionary(k => k, k => file.Read(k));
            foreach (var key in tensors.Keys.Where(k => k.Contains("lora_B")).ToList()) tensors[key] = TorchSharp.torch.full_like(tensors[key], float.NaN);
            SafetensorsWriter.Save(Path.Combine(poisoned, "adapter_model.safetensors"), tensors);
        }
        yield return ("NaN weights", poisoned);
    }

    [Fact]
    public async Task Bad_requests_are_invalid_arguments()
    {
        var (prefix, _) = Case("harbor");
        var wrongWidth = DefaultModel.Wire(new float[20 * 100], 20, 100);
        var cases = new (string What, GenerateRequest Request)[]
        {
            ("no prefix", new GenerateRequest { Prompt = "x" }),
            ("prefix of the wrong width", new GenerateRequest { Prefix = wrongWidth, Prompt = "x" }),
            ("too many new tokens", new GenerateRequest { Prefix = prefix, Prompt = "x", Settings = new GenerationSettings { MaxNewTokens = 100_000 } }),
            ("negative temperature", new GenerateRequest { Prefix = prefix, Prompt = "x", Settings = new GenerationSettings { Temperature = -1 } }),
            ("prompt too long", new GenerateRequest { Prefix = prefix, Prompt = new string('a', 10_000) }),
        };
        foreach (var (what, request) in cases)
        {
            var e = await Assert.ThrowsAsync<RpcException>(async () => await Client.GenerateAsync(request));
            Assert.True(e.StatusCode == StatusCode.InvalidArgument, $"{what}: {e.StatusCode} {e.Status.Detail}");
        }
    }

    [Fact]
    public async Task CountTokens_counts_as_generation_does_and_the_limit_it_reports_is_the_one_generation_keeps()
    {
        var (prefix, _) = Case("harbor");
        var counted = await Client.CountTokensAsync(new CountTokensRequest { Text = Instruction });
        Assert.Equal(_reference.Model.LlmTokenizer.Encode(Instruction, addSpecialTokens: true).Count, counted.Tokens);
        Assert.Equal(_reference.Model.Config.Llm.MaxPositionEmbeddings - (int)prefix.Shape[0] - 1, counted.MaxPromptTokens);

        // A prompt at the limit is written (one token); one token over it is refused, naming the limit.
        int bos = _reference.Model.LlmTokenizer.Encode("", addSpecialTokens: true).Count;
        string atLimit = string.Join(" ", Enumerable.Repeat("a", counted.MaxPromptTokens - bos));   // one token a word
        Assert.Equal(counted.MaxPromptTokens, (await Client.CountTokensAsync(new CountTokensRequest { Text = atLimit })).Tokens);
        var written = await Client.GenerateAsync(new GenerateRequest { Prefix = prefix, Prompt = atLimit, Settings = new GenerationSettings { MaxNewTokens = 8 } });
        Assert.Equal(1, written.GeneratedTokens);
        var refused = await Assert.ThrowsAsync<RpcException>(async () =>
            await Client.GenerateAsync(new GenerateRequest { Prefix = prefix, Prompt = atLimit + " a" }));
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains($"accepts at most {counted.MaxPromptTokens}", refused.Status.Detail);
        var tooLong = await Assert.ThrowsAsync<RpcException>(async () => await Client.CountTokensAsync(new CountTokensRequest { Text = new string('a', 10_000) }));
        Assert.Equal(StatusCode.InvalidArgument, tooLong.StatusCode);
    }

    [Fact]
    public async Task A_passed_deadline_ends_the_call_on_the_server()
    {
        // Every decode step paused 100 ms: the section (over ten tokens) cannot be written before a 300 ms deadline, however
        // the threads are scheduled (25 ms a step was not enough for the real-imagery model's shorter sections).
        using var slow = new ServiceHost<ExpertProgram>(new Dictionary<string, string> { ["Expert:Role"] = "objects", ["Expert:TokenDelay"] = "00:00:00.100" });
        var client = new Expert.ExpertClient(slow.Channel);
        var (prefix, _) = Case("harbor");
        var e = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.GenerateAsync(Request(prefix), deadline: DateTime.UtcNow.AddMilliseconds(300)));
        // The client's own deadline or the server's (which cancels the generation) ends it, whichever fires first; the
        // in-memory test server reports the server ending the stream at its deadline as a reset (over a socket it is DeadlineExceeded).
        bool serverReset = e.StatusCode == StatusCode.Internal && e.Status.Detail.Contains("reset the request", StringComparison.Ordinal);
        Assert.True(e.StatusCode is StatusCode.DeadlineExceeded or StatusCode.Cancelled || serverReset, e.Status.ToString());
        // The expert stopped decoding it: a request after it is served at once, not after the abandoned one.
        var batcher = slow.Services.GetRequiredService<ExpertHost::RsMoe.Expert.ExpertSlot>().Current.Batcher!;
        long steps = batcher.Steps;
        await Task.Delay(600);   // six more steps if it went on
        Assert.True(batcher.Steps - steps <= 2, $"the batcher went on decoding a cancelled request ({batcher.Steps - steps} more steps)");
    }

    public void Dispose()
    {
        _host.Dispose();
        Directory.Delete(_scratch, recursive: true);
    }
}
