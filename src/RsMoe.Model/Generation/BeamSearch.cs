using System.Diagnostics;
using RsMoe.Model.Llm;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Generation;

/// <summary>
/// Beam search as Hugging Face's BeamSearchScorer does it: 2·beams candidates per step, a hypothesis ends
/// on a stop token (scored by sum of log-probabilities over length^penalty), and the best finished or
/// still-running hypothesis wins. Each prompt is searched on its own, its beams forming the batch, all of them
/// decoding with the prompt's adapter when it names one.
/// </summary>
internal static class BeamSearch
{
    sealed record Hypothesis(List<int> Tokens, double Score);

    public static GenerationResult Run(LlamaForCausalLM lm, Lora.LoraBank? bank, IReadOnlyList<GenerationPrompt> prompts, GenerationOptions options,
        Action<int, int>? onToken, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var tokens = new List<int[]>();
        var reasons = new List<FinishReason>();
        var scores = new List<double>();
        double prefill = 0;
        for (int row = 0; row < prompts.Count; row++)
        {
            using var adapter = prompts[row].Adapter is { } index ? bank!.Select(Enumerable.Repeat(index, options.NumBeams).ToList(), lm.Device) : null;
            var (best, score, reason, prefillSeconds) = SearchOne(lm, prompts[row], options, cancellationToken);
            prefill += prefillSeconds;
            foreach (var token in best) onToken?.Invoke(row, token);
            tokens.Add(best.ToArray());
            reasons.Add(reason);
            scores.Add(score);
        }
        double total = clock.Elapsed.TotalSeconds;
        return new GenerationResult(tokens, reasons, prompts.Sum(p => p.Length), prefill, total - prefill, scores);
    }

    static (List<int>, double, FinishReason, double) SearchOne(LlamaForCausalLM lm, GenerationPrompt prompt, GenerationOptions options, CancellationToken cancellationToken)
    {
        int beams = options.NumBeams;
        var stop = new HashSet<int>(options.StopTokenIds);
        var finished = new List<Hypothesis>();
        var running = Enumerable.Range(0, beams).Select(_ => new List<int>()).ToList();
        var beamScores = new double[beams];
        for (int b = 1; b < beams; b++) beamScores[b] = -1e9;   // only the first copy may start
        var clock = Stopwatch.StartNew();
        double prefillSeconds = 0;
        if (options.MaxNewTokens == 0) return ([], 0, FinishReason.Length, 0);

        var replicated = Enumerable.Repeat(prompt, beams).ToList();
        var batchInputs = PromptBatch.Build(lm, replicated, options.PadTokenId ?? 0);
        using var cache = lm.NewCache(beams, batchInputs.Length + options.MaxNewTokens);
        var seen = batchInputs.SeenTokens.clone();
        long position = batchInputs.Length - 1;
        var logits = lm.Forward(batchInputs.Embeddings, batchInputs.Positions, null, cache, logitsToKeep: 1);
        batchInputs.Dispose();
        var device = lm.Device;
        long vocab = lm.Config.VocabSize;
        bool done = false;
        var reason = FinishReason.Length;

        try
        {
            for (int step = 0; step < options.MaxNewTokens && !done; step++)
            {
                if (cancellationToken.IsCancellationRequested) { reason = FinishReason.Cancelled; break; }
                float[] topScores;
                long[] topIndices;
                using (var scope = NewDisposeScope())
                {
                    var stepScores = logits.select(1, -1).to_type(ScalarType.Float32);
                    stepScores = LogitsProcessing.ApplyRepetitionPenalty(stepScores, seen, options.RepetitionPenalty);
                    stepScores = LogitsProcessing.Suppress(stepScores, options.Suppressed(step));
                    var logProbs = stepScores.log_softmax(-1) + tensor(beamScores, ScalarType.Float32, device).unsqueeze(1);
                    var (values, indices) = logProbs.view(1, -1).topk(2 * beams, -1);
                    topScores = values.cpu().data<float>().ToArray();
                    topIndices = indices.cpu().data<long>().ToArray();
                }
                if (step == 0) prefillSeconds = clock.Elapsed.TotalSeconds;

                var nextBeams = new List<(int Source, int Token, double Score)>();
                for (int rank = 0; rank < topScores.Length && nextBeams.Count < beams; rank++)
                {
                    int source = (int)(topIndices[rank] / vocab);
                    int token = (int)(topIndices[rank] % vocab);
                    if (stop.Contains(token))
                    {
                        if (rank >= beams) continue;
                        var ended = new List<int>(running[source]) { token };
                        AddHypothesis(finished, new Hypothesis(ended, topScores[rank] / Math.Pow(ended.Count, options.LengthPenalty)), beams);
                        continue;
                    }
                    nextBeams.Add((source, token, topScores[rank]));
                }

                int generatedLength = step + 1;
                if (finished.Count >= beams)
                {
                    double bestRunning = nextBeams.Count > 0 ? nextBeams.Max(b => b.Score) / Math.Pow(generatedLength, options.LengthPenalty) : double.NegativeInfinity;
                    if (options.EarlyStopping || finished.Min(h => h.Score) >= bestRunning) { done = true; reason = FinishReason.Stop; }
                }
                if (done || step == options.MaxNewTokens - 1 || nextBeams.Count == 0)
                {
                    if (!done)
                        foreach (var (source, token, score) in nextBeams)
                        {
                            var tokensSoFar = new List<int>(running[source]) { token };
                            AddHypothesis(finished, new Hypothesis(tokensSoFar, score / Math.Pow(tokensSoFar.Count, options.LengthPenalty)), beams);
                        }
                    break;
                }

                running = nextBeams.Select(b => new List<int>(running[b.Source]) { b.Token }).ToList();
                beamScores = nextBeams.Select(b => b.Score).ToArray();
                using var stepScope = NewDisposeScope();
                var sources = tensor(nextBeams.Select(b => (long)b.Source).ToArray(), ScalarType.Int64, device);
                cache.Reorder(sources);
                var nextIds = tensor(nextBeams.Select(b => (long)b.Token).ToArray(), [beams, 1], ScalarType.Int64, device);
                var reorderedSeen = cat([seen.index_select(0, sources), nextIds], 1).MoveToOuterDisposeScope();
                seen.Dispose();
                seen = reorderedSeen;
                position++;
                var positions = tensor(Enumerable.Repeat(position, beams).ToArray(), [beams, 1], ScalarType.Int64, device);
                logits.Dispose();
                logits = lm.Forward(lm.Embed(nextIds), positions, null, cache, logitsToKeep: 1).MoveToOuterDisposeScope();
            }
        }
        finally
        {
            logits.Dispose();
            seen.Dispose();
        }

        var best = finished.OrderByDescending(h => h.Score).First();
        if (best.Tokens.Count > 0 && stop.Contains(best.Tokens[^1])) reason = FinishReason.Stop;
        return (best.Tokens, best.Score, reason, prefillSeconds);
    }

    static void AddHypothesis(List<Hypothesis> finished, Hypothesis hypothesis, int beams)
    {
        finished.Add(hypothesis);
        if (finished.Count > beams) finished.Remove(finished.MinBy(h => h.Score)!);
    }
}
