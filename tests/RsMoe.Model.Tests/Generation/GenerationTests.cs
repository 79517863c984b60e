using RsMoe.Model.Generation;
using RsMoe.Model.Tests.Support;
using static TorchSharp.torch;

namespace RsMoe.Model.Tests.Generation;

public sealed class GenerationTests : IDisposable
{
    readonly RsMoe.Model.Llm.LlamaForCausalLM _lm = TinyModels.RandomLlama();

    public void Dispose() => _lm.Dispose();

    [Fact]
    public void DecodingWithTheCacheGivesTheLogitsOfAFullForwardPass()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long[] ids = [1, 5, 9, 33, 12, 70, 4, 18, 40, 2, 64];
        var full = _lm.Forward(tensor(ids).unsqueeze(0));           // [1, 11, vocab]
        using var cache = _lm.NewCache(1, 4);                       // small on purpose: it must grow
        var prefix = tensor(ids[..5]).unsqueeze(0);
        var stepLogits = new List<Tensor> { _lm.Forward(_lm.Embed(prefix), arange(5L).unsqueeze(0), null, cache) };
        for (int i = 5; i < ids.Length; i++)
            stepLogits.Add(_lm.Forward(_lm.Embed(tensor(new[] { ids[i] }).unsqueeze(0)), tensor(new long[] { i }).unsqueeze(0), null, cache));
        var cached = cat(stepLogits, 1);
        double diff = (full - cached).abs().max().item<float>();
        Assert.True(diff < 1e-4, $"cached decode differs from the full pass by {diff}");
    }

    [Fact]
    public void BatchedPromptsOfDifferentLengthsDecodeAsEachAlone()
    {
        var generator = new TextGenerator(_lm);
        int[][] prompts = [[1, 5, 9], [1, 40, 41, 42, 43, 44, 45], [7]];
        var options = new GenerationOptions { MaxNewTokens = 8 };
        var batched = generator.Generate(prompts.Select(p => new GenerationPrompt(p)).ToList(), options);
        for (int i = 0; i < prompts.Length; i++)
            Assert.Equal(generator.Generate(prompts[i], options).Tokens[0], batched.Tokens[i]);
    }

    [Fact]
    public void PrefixEmbeddingsActLikeTheTokensTheyEmbed()
    {
        using var scope = NewDisposeScope();
        var generator = new TextGenerator(_lm);
        int[] head = [1, 8, 16], tail = [20, 21];
        var prefix = _lm.Embed(tensor(head.Select(i => (long)i).ToArray()).unsqueeze(0)).squeeze(0).detach();
        var options = new GenerationOptions { MaxNewTokens = 6 };
        var asTokens = generator.Generate(head.Concat(tail).ToArray(), options);
        var asPrefix = generator.Generate([new GenerationPrompt(tail, prefix)], options);
        Assert.Equal(asTokens.Tokens[0], asPrefix.Tokens[0]);
    }

    [Fact]
    public void SamplingIsReproducibleForASeedAndVariesAcrossSeeds()
    {
        var generator = new TextGenerator(_lm);
        var options = new GenerationOptions { MaxNewTokens = 12, DoSample = true, Temperature = 1.5, TopP = 0.95, TopK = 50, Seed = 11 };
        var a = generator.Generate([1, 2, 3], options).Tokens[0];
        var b = generator.Generate([1, 2, 3], options).Tokens[0];
        Assert.Equal(a, b);
        var others = Enumerable.Range(20, 5).Select(seed => generator.Generate([1, 2, 3], options with { Seed = seed }).Tokens[0]).ToList();
        Assert.Contains(others, o => !o.SequenceEqual(a));
    }

    [Fact]
    public void TopKOfOneSamplesTheGreedyToken()
    {
        var generator = new TextGenerator(_lm);
        var greedy = generator.Generate([1, 4, 9], new GenerationOptions { MaxNewTokens = 8 }).Tokens[0];
        var sampled = generator.Generate([1, 4, 9], new GenerationOptions { MaxNewTokens = 8, DoSample = true, TopK = 1, Seed = 3 }).Tokens[0];
        Assert.Equal(greedy, sampled);
    }

    [Fact]
    public void StopTokensEndARowAndMaxNewTokensBoundsIt()
    {
        var generator = new TextGenerator(_lm);
        var free = generator.Generate([1, 4, 9], new GenerationOptions { MaxNewTokens = 10 });
        Assert.Equal(10, free.Tokens[0].Length);
        Assert.Equal(FinishReason.Length, free.FinishReasons[0]);
        int stopAt = free.Tokens[0][3];
        var stopped = generator.Generate([1, 4, 9], new GenerationOptions { MaxNewTokens = 10, StopTokenIds = [stopAt] });
        int firstIndex = Array.IndexOf(free.Tokens[0], stopAt);
        Assert.Equal(free.Tokens[0][..(firstIndex + 1)], stopped.Tokens[0]);
        Assert.Equal(FinishReason.Stop, stopped.FinishReasons[0]);
    }

    [Fact]
    public void RepetitionPenaltyReducesRepeats()
    {
        var generator = new TextGenerator(_lm);
        var plain = generator.Generate([1, 4, 9], new GenerationOptions { MaxNewTokens = 40 }).Tokens[0];
        var penalised = generator.Generate([1, 4, 9], new GenerationOptions { MaxNewTokens = 40, RepetitionPenalty = 5.0 }).Tokens[0];
        Assert.True(penalised.Distinct().Count() >= plain.Distinct().Count(),
            $"distinct tokens: plain {plain.Distinct().Count()}, penalised {penalised.Distinct().Count()}");
        Assert.True(penalised.Distinct().Count() > 25, $"only {penalised.Distinct().Count()} distinct tokens with a strong penalty");
    }

    [Fact]
    public void StreamingCallbackSeesEveryTokenInOrder()
    {
        var generator = new TextGenerator(_lm);
        var streamed = new List<(int Row, int Token)>();
        var result = generator.Generate([new GenerationPrompt([1, 2]), new GenerationPrompt([3])], new GenerationOptions { MaxNewTokens = 5 },
            (row, token) => streamed.Add((row, token)));
        Assert.Equal(result.Tokens[0], streamed.Where(s => s.Row == 0).Select(s => s.Token));
        Assert.Equal(result.Tokens[1], streamed.Where(s => s.Row == 1).Select(s => s.Token));
    }

    [Fact]
    public void BeamSearchWithOneBeamEqualsGreedyAndMoreBeamsScoreAtLeastAsWell()
    {
        var generator = new TextGenerator(_lm);
        var greedy = generator.Generate([1, 4, 9], new GenerationOptions { MaxNewTokens = 6 });
        var beam = generator.Generate([1, 4, 9], new GenerationOptions { MaxNewTokens = 6, NumBeams = 4 });
        Assert.Equal(6, beam.Tokens[0].Length);
        Assert.True(SequenceLogProb([1, 4, 9], beam.Tokens[0]) >= SequenceLogProb([1, 4, 9], greedy.Tokens[0]) - 1e-4);
    }

    double SequenceLogProb(int[] prompt, int[] generated)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var all = prompt.Concat(generated).Select(i => (long)i).ToArray();
        var logProbs = _lm.Forward(tensor(all).unsqueeze(0)).squeeze(0).log_softmax(-1);
        double total = 0;
        for (int i = 0; i < generated.Length; i++) total += logProbs[prompt.Length - 1 + i, generated[i]].item<float>();
        return total;
    }

    [Fact]
    public void InvalidOptionsAndPromptsAreRefusedWithClearMessages()
    {
        var generator = new TextGenerator(_lm);
        Assert.Throws<ArgumentException>(() => generator.Generate([1], new GenerationOptions { Temperature = 0 }));
        Assert.Throws<ArgumentException>(() => generator.Generate([1], new GenerationOptions { TopP = 1.5 }));
        var e = Assert.Throws<ArgumentException>(() => generator.Generate([1, 500], new GenerationOptions()));
        Assert.Contains("token ids", e.Message);
        Assert.Throws<ArgumentException>(() => generator.Generate(Array.Empty<int>(), new GenerationOptions()));
    }
}
