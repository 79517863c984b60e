using RsMoe.Captions;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Grpc.Core;
using RsMoe.Contracts.V1;
using RsMoe.Model.Generation;
using RsMoe.Model.Moe;

namespace RsMoe.Expert;

/// <summary>One expert: writes its section after the router's prefix, unary or token by token; reports and swaps its checkpoint.</summary>
internal sealed class ExpertService(ExpertSlot slot, ExpertOptions options, ILogger<ExpertService> logger) : RsMoe.Contracts.V1.Expert.ExpertBase
{
    static readonly Meter Meter = new("RsMoe.Expert");
    static readonly Counter<long> GeneratedTokens = Meter.CreateCounter<long>("rsmoe.expert.generated_tokens", "{token}");
    static readonly Histogram<double> DecodeRate = Meter.CreateHistogram<double>("rsmoe.expert.decode.rate", "{token}/s", "Decode tokens per second per request");
    static readonly Histogram<double> GenerateMs = Meter.CreateHistogram<double>("rsmoe.expert.generate.duration", "ms");

    public override async Task<GenerateResponse> Generate(GenerateRequest request, ServerCallContext context)
    {
        var (prefix, shape, settings) = Validate(request);
        using var admission = await AdmitAsync(context.CancellationToken);
        using var lease = slot.Acquire();
        var clock = Stopwatch.StartNew();
        var output = await lease.Model.GenerateAsync(prefix, shape, request.Prompt, settings, Paced(lease.Model, null), context.CancellationToken);
        return Record(output, lease.Model, clock);
    }

    public override async Task GenerateStream(GenerateRequest request, IServerStreamWriter<GenerateEvent> responseStream, ServerCallContext context)
    {
        var (prefix, shape, settings) = Validate(request);
        using var admission = await AdmitAsync(context.CancellationToken);
        using var lease = slot.Acquire();
        var clock = Stopwatch.StartNew();
        // The decoder hands text over without waiting for the network; this call writes it out in order.
        var pieces = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var generation = GenerateThenComplete();
        await foreach (var text in pieces.Reader.ReadAllAsync(context.CancellationToken))
            await responseStream.WriteAsync(new GenerateEvent { Text = text }, context.CancellationToken);
        var output = await generation;
        await responseStream.WriteAsync(new GenerateEvent { Done = true, Result = Record(output, lease.Model, clock) }, context.CancellationToken);

        async Task<ExpertOutput> GenerateThenComplete()
        {
            try
            {
                return await lease.Model.GenerateAsync(prefix, shape, request.Prompt, settings, Paced(lease.Model, text => pieces.Writer.TryWrite(text)), context.CancellationToken);
            }
            finally
            {
                pieces.Writer.TryComplete();
            }
        }
    }

    /// <summary>A batching expert takes every request into its batcher's queue; otherwise the slot's limit applies.</summary>
    async Task<IDisposable?> AdmitAsync(CancellationToken cancellationToken)
    {
        if (slot.Current.Batcher is not null) return null;
        await slot.UnbatchedGenerations.WaitAsync(cancellationToken);
        return new Admission(slot.UnbatchedGenerations);
    }

    sealed class Admission(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }

    /// <summary>
    /// The token callback, slowed by <see cref="ExpertOptions.TokenDelay"/> when a drill asks for it (a batching expert
    /// pauses each step instead, so the callback never blocks the batch).
    /// </summary>
    Action<string>? Paced(ExpertModel model, Action<string>? onText) => options.TokenDelay <= TimeSpan.Zero || model.Batcher is not null ? onText : text =>
    {
        Thread.Sleep(options.TokenDelay);
        onText?.Invoke(text);
    };

    GenerateResponse Record(ExpertOutput output, ExpertModel model, Stopwatch clock)
    {
        logger.LogInformation("{Role} ({Version}) wrote {Tokens} tokens in {Ms:F0} ms", model.Role, model.Version, output.GeneratedTokens, clock.Elapsed.TotalMilliseconds);
        GeneratedTokens.Add(output.GeneratedTokens);
        if (output.DecodeTokensPerSecond > 0) DecodeRate.Record(output.DecodeTokensPerSecond);
        GenerateMs.Record(clock.Elapsed.TotalMilliseconds);
        return new GenerateResponse
        {
            Text = output.Text,
            Role = model.Role,
            Version = model.Version,
            GeneratedTokens = output.GeneratedTokens,
            DecodeTokensPerSecond = output.DecodeTokensPerSecond,
        };
    }

    (float[] Prefix, long[] Shape, GenerationOptions Settings) Validate(GenerateRequest request)
    {
        if (request.Prefix is null) throw new ArgumentException("prefix is required");
        if (request.Prompt.Length > options.MaxPromptChars)
            throw new ArgumentException($"the prompt has {request.Prompt.Length} characters; at most {options.MaxPromptChars} are accepted");
        var shape = request.Prefix.ValidatedShape("prefix");
        slot.Current.ValidatePrefix(shape);
        var s = request.Settings ?? new GenerationSettings();
        if (s.MaxNewTokens < 0 || s.MaxNewTokens > options.MaxNewTokensLimit)
            throw new ArgumentException($"max_new_tokens must be between 1 and {options.MaxNewTokensLimit} (0 for the default {CaptionPolicy.CaptionMaxNewTokens})");
        if (s.Temperature < 0 || s.TopP < 0 || s.TopP > 1 || s.TopK < 0 || s.RepetitionPenalty < 0)
            throw new ArgumentException("temperature, top_p (at most 1), top_k and repetition_penalty must not be negative");
        var settings = new GenerationOptions
        {
            MaxNewTokens = s.MaxNewTokens == 0 ? CaptionPolicy.CaptionMaxNewTokens : s.MaxNewTokens,
            RepetitionPenalty = s.RepetitionPenalty == 0 ? 1.0 : s.RepetitionPenalty,
            DoSample = s.Temperature > 0,
            Temperature = s.Temperature > 0 ? s.Temperature : 1.0,
            TopP = s.TopP == 0 ? 1.0 : s.TopP,
            TopK = s.TopK,
            Seed = s.Seed == 0 ? null : s.Seed,
        };
        return (request.Prefix.ToFloats(), shape, settings);
    }

    public override Task<ExpertInfo> Info(ExpertInfoRequest request, ServerCallContext context) => Task.FromResult(Describe(slot.Current));

    public override Task<CountTokensResponse> CountTokens(CountTokensRequest request, ServerCallContext context)
    {
        if (request.Text.Length > options.MaxPromptChars)
            throw new ArgumentException($"the prompt has {request.Text.Length} characters; at most {options.MaxPromptChars} are accepted");
        var model = slot.Current;
        return Task.FromResult(new CountTokensResponse { Tokens = model.CountPromptTokens(request.Text), MaxPromptTokens = model.MaxPromptTokens(model.PrefixPositions) });
    }

    public override async Task<ExpertInfo> Reload(ReloadRequest request, ServerCallContext context) =>
        Describe(await slot.ReloadAsync(request.AdapterPath, context.CancellationToken));

    ExpertInfo Describe(ExpertModel model) => new()
    {
        Role = slot.Role,
        Model = $"{Path.GetFileName(slot.ModelDirectory)} (llama {slot.Config.Llm.NumHiddenLayers}×{slot.Config.Llm.HiddenSize})",
        Version = model.Version,
        CheckpointPath = model.AdapterPath,
        Device = slot.Device,
        Reloads = slot.Reloads,
    };
}
