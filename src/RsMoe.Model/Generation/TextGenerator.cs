using System.Diagnostics;
using RsMoe.Model.Decoding;
using RsMoe.Model.Llm;
using RsMoe.Model.Lora;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Generation;

/// <summary>
/// Autoregressive decoding with a KV cache: greedy, sampling (temperature, top-k, top-p, seed),
/// repetition penalty, stop tokens and beam search, over a batch of prompts of different lengths
/// (left-padded, masked, positions counted from each row's first real token).
/// </summary>
public sealed class TextGenerator
{
    readonly LlamaForCausalLM _lm;
    readonly LoraBank? _bank;

    /// <summary>
    /// Decode on the CPU with <see cref="CpuDecoder"/> where the model allows it (greedy and sampling; beam search stays
    /// on libtorch). On by default; <c>RSMOE_CPU_DECODER=0</c> turns it off, for comparison.
    /// </summary>
    public static bool UseCpuDecoder { get; set; } = Environment.GetEnvironmentVariable("RSMOE_CPU_DECODER") != "0";

    /// <param name="bank">Adapters the prompts may pick per row (<see cref="GenerationPrompt.Adapter"/>); it must be loaded on <paramref name="lm"/>.</param>
    public TextGenerator(LlamaForCausalLM lm, LoraBank? bank = null)
    {
        _lm = lm;
        _bank = bank;
    }

    /// <summary>Generates for every prompt; <paramref name="onToken"/> sees (row, token) as each token is chosen.</summary>
    public GenerationResult Generate(IReadOnlyList<GenerationPrompt> prompts, GenerationOptions options,
        Action<int, int>? onToken = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        if (prompts.Count == 0) throw new ArgumentException("at least one prompt is needed");
        if (prompts.Any(p => p.Length == 0)) throw new ArgumentException("a prompt must hold at least one token or embedding");
        if (prompts.Any(p => p.Adapter is not null) && (_bank is null || prompts.Any(p => p.Adapter is null || p.Adapter < 0 || p.Adapter >= _bank.Names.Count)))
            throw new ArgumentException("every prompt must pick an adapter of the generator's bank, or none may");
        using var noGrad = no_grad();
        return options.NumBeams > 1
            ? BeamSearch.Run(_lm, _bank, prompts, options, onToken, cancellationToken)
            : Sample(prompts, options, onToken, cancellationToken);
    }

    public GenerationResult Generate(IReadOnlyList<int> tokenIds, GenerationOptions options, Action<int, int>? onToken = null,
        CancellationToken cancellationToken = default) =>
        Generate([new GenerationPrompt(tokenIds)], options, onToken, cancellationToken);

    GenerationResult Sample(IReadOnlyList<GenerationPrompt> prompts, GenerationOptions options, Action<int, int>? onToken, CancellationToken cancellationToken)
    {
        int batch = prompts.Count;
        int pad = options.PadTokenId ?? (options.StopTokenIds.Count > 0 ? options.StopTokenIds[0] : 0);
        var stop = new HashSet<int>(options.StopTokenIds);
        var generated = Enumerable.Range(0, batch).Select(_ => new List<int>()).ToArray();
        var reasons = Enumerable.Repeat(FinishReason.Length, batch).ToArray();
        var finished = new bool[batch];
        using var random = options.Seed is { } seed ? new Generator((ulong)seed) : null;
        var device = _lm.Device;

        var clock = Stopwatch.StartNew();
        double prefillSeconds = 0;
        long promptTokens = prompts.Sum(p => p.Length);
        if (options.MaxNewTokens == 0) return new GenerationResult(generated.Select(g => g.ToArray()).ToArray(), reasons, promptTokens, 0, 0);

        var batchInputs = PromptBatch.Build(_lm, prompts, pad);
        CpuDecoder? cpu = UseCpuDecoder && CpuDecoder.Unsupported(_lm) is null ? new CpuDecoder(_lm) : null;
        // With the CPU decoder libtorch's cache holds only the prompt; the decode steps keep their own.
        using var cache = _lm.NewCache(batch, batchInputs.Length + (cpu is null ? options.MaxNewTokens : 0));
        Tensor? keyMask = batchInputs.KeyMask?.clone();   // [batch, keys], grows with each step while rows are padded
        Tensor seen = batchInputs.SeenTokens.clone();
        Tensor lastPositions = batchInputs.Positions.narrow(1, batchInputs.Length - 1, 1).clone();
        using var adapters = _bank is not null && prompts[0].Adapter is not null ? _bank.Select(prompts.Select(p => p.Adapter!.Value).ToList(), device) : null;
        Tensor logits = _lm.Forward(batchInputs.Embeddings, batchInputs.Positions, batchInputs.AttentionMask, cache, logitsToKeep: 1);
        batchInputs.Dispose();

        DecodeSequence[] sequences = [];
        // Greedy decoding on the CPU decoder chooses in C# from its logits: no libtorch call at all per step.
        var greedy = cpu is not null && !options.DoSample ? new GreedyChooser(cpu.VocabSize) : null;
        var seenIds = greedy is null ? [] : prompts.Select(p => new List<int>(p.TokenIds)).ToArray();
        bool logitsOnCpu = false;
        if (cpu is not null)
        {
            sequences = new DecodeSequence[batch];
            for (int row = 0; row < batch; row++)
            {
                sequences[row] = cpu.NewSequence((int)(prompts[row].Length + options.MaxNewTokens), prompts[row].Adapter ?? -1);
                cpu.Adopt(sequences[row], cache, row, (int)prompts[row].Length);
            }
        }

        try
        {
            for (int step = 0; step < options.MaxNewTokens; step++)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    for (int row = 0; row < batch; row++) if (!finished[row]) reasons[row] = FinishReason.Cancelled;
                    break;
                }
                long[] next;
                if (logitsOnCpu)
                {
                    next = new long[batch];
                    for (int row = 0, i = 0; row < batch; row++)
                        if (!finished[row]) next[row] = greedy!.Choose(cpu!.Logits(i++), seenIds[row], options.RepetitionPenalty, options.Suppressed(step));
                }
                else
                {
                    using var scope = NewDisposeScope();
                    var scores = logits.select(1, -1).to_type(ScalarType.Float32);
                    scores = LogitsProcessing.ApplyRepetitionPenalty(scores, seen, options.RepetitionPenalty);
                    scores = LogitsProcessing.Suppress(scores, options.Suppressed(step));
                    next = ChooseTokens(scores, options, random).cpu().data<long>().ToArray();
                }
                if (step == 0) prefillSeconds = clock.Elapsed.TotalSeconds;

                for (int row = 0; row < batch; row++)
                {
                    if (finished[row]) { next[row] = pad; continue; }
                    int token = (int)next[row];
                    generated[row].Add(token);
                    if (greedy is not null) seenIds[row].Add(token);
                    onToken?.Invoke(row, token);
                    if (stop.Contains(token)) { finished[row] = true; reasons[row] = FinishReason.Stop; }
                }
                if (finished.All(f => f) || step == options.MaxNewTokens - 1) break;

                if (greedy is not null)
                {
                    CpuStep(cpu!, sequences, next, finished);
                    logitsOnCpu = true;
                    continue;
                }
                using var stepScope = NewDisposeScope();
                var nextIds = tensor(next, [batch, 1], ScalarType.Int64, device);
                if (cpu is not null)
                {
                    var grown = cat([seen, nextIds], 1).MoveToOuterDisposeScope();
                    seen.Dispose();
                    seen = grown;
                    logits.Dispose();
                    CpuStep(cpu, sequences, next, finished);
                    logits = CpuLogits(cpu, finished).MoveToOuterDisposeScope();
                    continue;
                }
                var positions = lastPositions.add(Scalars.One, Scalars.One);
                Tensor? mask = null;
                if (keyMask is not null)
                {
                    var grown = cat([keyMask, ones([batch, 1], ScalarType.Bool, device)], 1);
                    mask = grown.view(batch, 1, 1, -1);
                    keyMask.Dispose();
                    keyMask = grown.MoveToOuterDisposeScope();
                }
                var grownSeen = cat([seen, nextIds], 1).MoveToOuterDisposeScope();
                seen.Dispose();
                seen = grownSeen;
                lastPositions.Dispose();
                lastPositions = positions.MoveToOuterDisposeScope();
                logits.Dispose();
                logits = _lm.Forward(_lm.Embed(nextIds), positions, mask, cache, logitsToKeep: 1).MoveToOuterDisposeScope();
            }
        }
        finally
        {
            logits.Dispose();
            seen.Dispose();
            keyMask?.Dispose();
            lastPositions.Dispose();
        }

        double total = clock.Elapsed.TotalSeconds;
        return new GenerationResult(generated.Select(g => g.ToArray()).ToArray(), reasons, promptTokens, prefillSeconds, total - prefillSeconds);
    }

    /// <summary>One CPU decode step for the rows still going: logits row i is the i-th unfinished row's.</summary>
    static void CpuStep(CpuDecoder cpu, DecodeSequence[] sequences, long[] next, bool[] finished)
    {
        var active = new List<DecodeSequence>(sequences.Length);
        var tokens = new List<int>(sequences.Length);
        for (int row = 0; row < sequences.Length; row++)
            if (!finished[row]) { active.Add(sequences[row]); tokens.Add((int)next[row]); }
        cpu.Step(active, tokens.ToArray());
    }

    /// <summary>The last CPU step's logits as [batch, 1, vocab] for libtorch's sampling; finished rows get zeros (never read).</summary>
    static Tensor CpuLogits(CpuDecoder cpu, bool[] finished)
    {
        int vocab = cpu.VocabSize;
        var all = new float[finished.Length * vocab];
        for (int row = 0, i = 0; row < finished.Length; row++)
            if (!finished[row]) cpu.Logits(i++).CopyTo(all.AsSpan(row * vocab, vocab));
        return tensor(all, [finished.Length, 1, vocab]);
    }

    internal static Tensor ChooseTokens(Tensor scores, GenerationOptions options, Generator? random)
    {
        if (!options.DoSample) return scores.argmax(-1);
        if (options.Temperature != 1.0)
        {
            using Scalar temperature = options.Temperature;   // held for the call: see Scalars
            scores = scores.div(temperature);
        }
        scores = LogitsProcessing.ApplyTopK(scores, options.TopK);
        scores = LogitsProcessing.ApplyTopP(scores, options.TopP);
        return scores.softmax(-1).multinomial(1, false, random).squeeze(-1);
    }
}
