using System.Diagnostics;
using System.Threading.Channels;
using RsMoe.Model.Decoding;
using RsMoe.Model.Llm;
using RsMoe.Model.Lora;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Generation;

/// <summary>
/// Continuous (iteration-level) batching for one model on the CPU: requests join the running batch between decode
/// steps instead of waiting for it to finish, and leave it the step they end, so concurrent requests share every
/// weight read. A newcomer's prompt is prefilled alone with libtorch, then its sequence steps with the others in the
/// <see cref="CpuDecoder"/>. Each request keeps its own options (length, stop tokens, penalty, sampling seed) and
/// gets the tokens it would get alone. One worker thread owns the model's decoding; dispose to stop it.
/// </summary>
public sealed class ContinuousBatcher : IDisposable
{
    sealed class Request(GenerationPrompt prompt, GenerationOptions options, Action<int>? onToken, CancellationToken cancellation)
    {
        public GenerationPrompt Prompt { get; } = prompt;
        public GenerationOptions Options { get; } = options;
        public Action<int>? OnToken { get; } = onToken;
        public CancellationToken Cancellation { get; } = cancellation;
        public TaskCompletionSource<GenerationResult> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public List<int> Generated { get; } = [];
        public List<int> Seen { get; } = [.. prompt.TokenIds];
        public HashSet<int> Stops { get; } = [.. options.StopTokenIds];
        public Generator? Random { get; set; }
        public DecodeSequence? Sequence { get; set; }
        public int Next { get; set; }
        public Stopwatch Clock { get; } = Stopwatch.StartNew();
        public double PrefillSeconds { get; set; }
    }

    readonly LlamaForCausalLM _lm;
    readonly LoraBank? _bank;
    readonly CpuDecoder _decoder;
    readonly GreedyChooser _greedy;
    readonly Channel<Request> _incoming = Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleReader = true });
    readonly Thread _worker;
    long _steps, _stepRows;

    /// <summary>Most sequences decoding together; more wait for a place.</summary>
    public int MaxBatch { get; }
    /// <summary>Fault injection for drills: a pause after every decode step (zero in production).</summary>
    public TimeSpan StepDelay { get; init; }
    /// <summary>Decode steps run and the mean number of sequences in each (how well batching is used).</summary>
    public long Steps => Interlocked.Read(ref _steps);
    public double MeanBatch => Steps == 0 ? 0 : (double)Interlocked.Read(ref _stepRows) / Steps;

    public static bool Supports(LlamaForCausalLM lm) => CpuDecoder.Unsupported(lm) is null;

    public ContinuousBatcher(LlamaForCausalLM lm, int maxBatch = 16, LoraBank? bank = null)
    {
        if (maxBatch < 1) throw new ArgumentOutOfRangeException(nameof(maxBatch), "at least one sequence per batch");
        _lm = lm;
        _bank = bank;
        _decoder = new CpuDecoder(lm);
        _greedy = new GreedyChooser(_decoder.VocabSize);
        MaxBatch = maxBatch;
        _worker = new Thread(Run) { IsBackground = true, Name = "rsmoe-decode" };
        _worker.Start();
    }

    /// <summary>
    /// Generates for one prompt as part of the running batch. <paramref name="onToken"/> is called on the decode
    /// thread and must not block. Cancellation ends the request at the next step with <see cref="FinishReason.Cancelled"/>.
    /// </summary>
    public Task<GenerationResult> GenerateAsync(GenerationPrompt prompt, GenerationOptions options, Action<int>? onToken = null,
        CancellationToken cancellationToken = default)
    {
        options.Validate();
        if (options.NumBeams > 1) throw new ArgumentException("beam search is not batched; use TextGenerator");
        if (prompt.Length == 0) throw new ArgumentException("a prompt must hold at least one token or embedding");
        if (prompt.Adapter is not null && (_bank is null || prompt.Adapter < 0 || prompt.Adapter >= _bank.Names.Count))
            throw new ArgumentException("the prompt picks an adapter the batcher has no bank entry for");
        var request = new Request(prompt, options, onToken, cancellationToken);
        if (!_incoming.Writer.TryWrite(request)) throw new ObjectDisposedException(nameof(ContinuousBatcher));
        return request.Done.Task;
    }

    void Run()
    {
        var active = new List<Request>();
        while (true)
        {
            while (active.Count < MaxBatch && _incoming.Reader.TryRead(out var request))
                if (Admit(request)) active.Add(request);
            if (active.Count == 0)
            {
                if (!_incoming.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult()) return;
                continue;
            }
            if (StepDelay > TimeSpan.Zero) Thread.Sleep(StepDelay);   // before the step, so even a request's last token waits
            try
            {
                _decoder.Step(active.Select(r => r.Sequence!).ToList(), active.Select(r => r.Next).ToArray());
                Interlocked.Increment(ref _steps);
                Interlocked.Add(ref _stepRows, active.Count);
                var ended = new HashSet<Request>();
                for (int row = 0; row < active.Count; row++)
                    if (Advance(active[row], _decoder.Logits(row))) ended.Add(active[row]);
                active.RemoveAll(ended.Contains);
            }
            catch (Exception e)
            {
                foreach (var request in active) Fail(request, e);
                active.Clear();
            }
        }
    }

    /// <summary>Prefills a newcomer and takes its first token; false when it is already done.</summary>
    bool Admit(Request request)
    {
        try
        {
            if (request.Cancellation.IsCancellationRequested) return !Finish(request, FinishReason.Cancelled);
            if (request.Options.MaxNewTokens == 0) return !Finish(request, FinishReason.Length);
            if (request.Options.Seed is { } seed) request.Random = new Generator((ulong)seed);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            int pad = request.Options.PadTokenId ?? (request.Options.StopTokenIds.Count > 0 ? request.Options.StopTokenIds[0] : 0);
            using var inputs = PromptBatch.Build(_lm, [request.Prompt], pad);
            using var cache = _lm.NewCache(1, inputs.Length);
            Tensor logits;
            using (request.Prompt.Adapter is { } adapter ? _bank!.Select([adapter], _lm.Device) : null)
                logits = _lm.Forward(inputs.Embeddings, inputs.Positions, inputs.AttentionMask, cache, logitsToKeep: 1);
            var first = logits[0, -1].to_type(ScalarType.Float32).data<float>().ToArray();
            request.Sequence = _decoder.NewSequence((int)(request.Prompt.Length + request.Options.MaxNewTokens), request.Prompt.Adapter ?? -1);
            _decoder.Adopt(request.Sequence, cache, 0, (int)request.Prompt.Length);
            request.PrefillSeconds = request.Clock.Elapsed.TotalSeconds;
            return !Advance(request, first);
        }
        catch (Exception e)
        {
            Fail(request, e);
            return false;
        }
    }

    /// <summary>Chooses the request's next token from its logits; true when the request has ended.</summary>
    bool Advance(Request request, ReadOnlySpan<float> logits)
    {
        if (request.Cancellation.IsCancellationRequested) return Finish(request, FinishReason.Cancelled);
        int token = Choose(request, logits);
        request.Generated.Add(token);
        request.Seen.Add(token);
        request.Next = token;
        try
        {
            request.OnToken?.Invoke(token);
        }
        catch (Exception e)
        {
            Fail(request, e);
            return true;
        }
        if (request.Stops.Contains(token)) return Finish(request, FinishReason.Stop);
        if (request.Generated.Count >= request.Options.MaxNewTokens) return Finish(request, FinishReason.Length);
        return false;
    }

    /// <summary>The same choice <see cref="TextGenerator"/> makes for a row: penalty, then argmax or sampling.</summary>
    int Choose(Request request, ReadOnlySpan<float> logits)
    {
        var options = request.Options;
        var suppressed = options.Suppressed(request.Generated.Count);
        if (!options.DoSample) return _greedy.Choose(logits, request.Seen, options.RepetitionPenalty, suppressed);
        using var scope = NewDisposeScope();
        var row = tensor(logits.ToArray(), [1, logits.Length]);
        row = LogitsProcessing.ApplyRepetitionPenalty(row, tensor(request.Seen.Select(t => (long)t).ToArray(), [1, request.Seen.Count]), options.RepetitionPenalty);
        row = LogitsProcessing.Suppress(row, suppressed);
        return (int)TextGenerator.ChooseTokens(row, options, request.Random).item<long>();
    }

    bool Finish(Request request, FinishReason reason)
    {
        double total = request.Clock.Elapsed.TotalSeconds;
        request.Random?.Dispose();
        request.Done.TrySetResult(new GenerationResult([request.Generated.ToArray()], [reason], request.Prompt.Length,
            request.PrefillSeconds, Math.Max(0, total - request.PrefillSeconds)));
        return true;
    }

    static void Fail(Request request, Exception e)
    {
        request.Random?.Dispose();
        request.Done.TrySetException(e);
    }

    /// <summary>Stops taking requests, lets the running ones finish, then stops the worker.</summary>
    public void Dispose()
    {
        _incoming.Writer.TryComplete();
        _worker.Join();
    }
}
