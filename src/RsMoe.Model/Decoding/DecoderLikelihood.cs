using RsMoe.Model.Llm;

namespace RsMoe.Model.Decoding;

/// <summary>
/// Teacher-forced next-token log-likelihood of token sequences, every position computed by the CPU decoder (no libtorch
/// prefill), so two decode-weight formats of one model differ only by their weights.
/// </summary>
public static class DecoderLikelihood
{
    /// <param name="Nll">Summed negative log-likelihood of every predicted token, in nats.</param>
    public sealed record Score(double Nll, long Tokens, int Sequences)
    {
        public double NllPerToken => Tokens == 0 ? 0 : Nll / Tokens;
        public double Perplexity => Math.Exp(NllPerToken);
    }

    /// <summary>Scores each sequence's tokens 1.. given the ones before (sequences shorter than two tokens are skipped).</summary>
    public static Score Measure(LlamaForCausalLM lm, IEnumerable<IReadOnlyList<int>> sequences, int? threads = null)
    {
        var decoder = new CpuDecoder(lm, threads);
        double nll = 0;
        long tokens = 0;
        int count = 0;
        foreach (var ids in sequences)
        {
            if (ids.Count < 2) continue;
            var sequence = decoder.NewSequence(ids.Count);
            for (int i = 0; i + 1 < ids.Count; i++)
            {
                decoder.Step([sequence], [ids[i]]);
                nll += NegativeLogLikelihood(decoder.Logits(0), ids[i + 1]);
                tokens++;
            }
            count++;
        }
        return new Score(nll, tokens, count);
    }

    /// <summary>−log softmax(logits)[target], computed stably.</summary>
    static double NegativeLogLikelihood(ReadOnlySpan<float> logits, int target)
    {
        float max = float.NegativeInfinity;
        foreach (float v in logits) max = MathF.Max(max, v);
        double sum = 0;
        foreach (float v in logits) sum += Math.Exp(v - max);
        return Math.Log(sum) + max - logits[target];
    }
}
