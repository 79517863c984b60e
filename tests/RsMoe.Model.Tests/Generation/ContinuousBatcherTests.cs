using RsMoe.Model.Configs;
using RsMoe.Model.Generation;
using RsMoe.Model.Tests.Support;

namespace RsMoe.Model.Tests.Generation;

public sealed class ContinuousBatcherTests : IDisposable
{
    static LlamaConfig Config => TinyModels.GqaConfig with { VocabSize = 131, HiddenSize = 64, IntermediateSize = 96, HeadDim = 16, NumHiddenLayers = 2 };
    readonly RsMoe.Model.Llm.LlamaForCausalLM _lm = TinyModels.RandomLlama(Config);

    public void Dispose() => _lm.Dispose();

    static readonly (int[] Prompt, GenerationOptions Options)[] Cases =
    [
        ([1, 5, 9], new GenerationOptions { MaxNewTokens = 12 }),
        ([1, 40, 41, 42, 43, 44, 45], new GenerationOptions { MaxNewTokens = 20, RepetitionPenalty = 1.3 }),
        ([7], new GenerationOptions { MaxNewTokens = 5, StopTokenIds = [2] }),
        ([3, 3, 3, 3], new GenerationOptions { MaxNewTokens = 16, DoSample = true, Seed = 11, TopK = 30, TopP = 0.9, Temperature = 0.7 }),
        ([100, 1, 8], new GenerationOptions { MaxNewTokens = 1 }),
        ([9, 8, 7, 6, 5], new GenerationOptions { MaxNewTokens = 0 }),
    ];

    [Fact]
    public async Task ConcurrentRequestsJoinTheRunningBatchAndEachGetsWhatItWouldGetAlone()
    {
        var generator = new TextGenerator(_lm);
        var expected = Cases.Select(c => generator.Generate(c.Prompt, c.Options).Tokens[0]).ToList();
        // Each step paused 2 ms, so a long request is still decoding when the others arrive and must join its batch.
        using var batcher = new ContinuousBatcher(_lm, maxBatch: 4) { StepDelay = TimeSpan.FromMilliseconds(2) };
        var started = new TaskCompletionSource();
        var anchor = batcher.GenerateAsync(new GenerationPrompt([1, 2, 3]), new GenerationOptions { MaxNewTokens = 100 }, _ => started.TrySetResult());
        await started.Task;
        var calls = new List<Task<GenerationResult>>();
        foreach (var (prompt, options) in Cases.Concat(Cases))
        {
            calls.Add(batcher.GenerateAsync(new GenerationPrompt(prompt), options));
            await Task.Delay(3);
        }
        var results = await Task.WhenAll(calls);
        for (int i = 0; i < results.Length; i++) Assert.Equal(expected[i % Cases.Length], results[i].Tokens[0]);
        Assert.Equal(new TextGenerator(_lm).Generate([1, 2, 3], new GenerationOptions { MaxNewTokens = 100 }).Tokens[0], (await anchor).Tokens[0]);
        Assert.True(batcher.MeanBatch > 1, $"requests decoded one at a time (mean batch {batcher.MeanBatch:F2})");
    }

    [Fact]
    public async Task TokensStreamInOrderAndACancelledRequestEndsWithoutDisturbingTheOthers()
    {
        using var batcher = new ContinuousBatcher(_lm);
        using var cancel = new CancellationTokenSource();
        var streamed = new List<int>();
        var kept = batcher.GenerateAsync(new GenerationPrompt([1, 5, 9]), new GenerationOptions { MaxNewTokens = 40 }, streamed.Add);
        var cancelled = batcher.GenerateAsync(new GenerationPrompt([1, 2]), new GenerationOptions { MaxNewTokens = 200 }, _ => cancel.Cancel(), cancel.Token);
        var (a, b) = (await kept, await cancelled);
        Assert.Equal(FinishReason.Cancelled, b.FinishReasons[0]);
        Assert.True(b.Tokens[0].Length < 200);
        Assert.Equal(new TextGenerator(_lm).Generate([1, 5, 9], new GenerationOptions { MaxNewTokens = 40 }).Tokens[0], a.Tokens[0]);
        Assert.Equal(a.Tokens[0], streamed);
    }

    [Fact]
    public async Task DisposingLetsRunningRequestsFinishAndRefusesNewOnes()
    {
        var batcher = new ContinuousBatcher(_lm);
        var running = batcher.GenerateAsync(new GenerationPrompt([1, 5]), new GenerationOptions { MaxNewTokens = 30 });
        batcher.Dispose();
        Assert.Equal(30, (await running).Tokens[0].Length);
        Assert.Throws<ObjectDisposedException>(() => { _ = batcher.GenerateAsync(new GenerationPrompt([1]), new GenerationOptions()); });
        await Assert.ThrowsAsync<ArgumentException>(async () => await new ContinuousBatcher(_lm).GenerateAsync(new GenerationPrompt([]), new GenerationOptions()));
    }
}
