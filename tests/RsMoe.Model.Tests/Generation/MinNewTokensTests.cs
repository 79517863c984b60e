using RsMoe.Model.Generation;
using RsMoe.Model.Tests.Support;

namespace RsMoe.Model.Tests.Generation;

/// <summary>
/// <see cref="GenerationOptions.MinNewTokens"/>: a stop token the model would pick first is not chosen before the
/// minimum, on every decoding path (libtorch, the CPU decoder, beam search, the continuous batcher).
/// </summary>
public sealed class MinNewTokensTests : IDisposable
{
    readonly RsMoe.Model.Llm.LlamaForCausalLM _lm = TinyModels.RandomLlama();
    static readonly int[] Prompt = [1, 5, 9];

    public void Dispose() => _lm.Dispose();

    /// <summary>Options whose stop tokens are the model's own first and second greedy choices, so it would stop at once.</summary>
    GenerationOptions StoppingAtOnce(int minNewTokens, int beams = 1)
    {
        var free = new TextGenerator(_lm).Generate(Prompt, new GenerationOptions { MaxNewTokens = 2, NumBeams = beams });
        return new GenerationOptions { MaxNewTokens = 6, NumBeams = beams, MinNewTokens = minNewTokens, StopTokenIds = [free.Tokens[0][0]] };
    }

    [Theory]
    [InlineData(true, 1)]
    [InlineData(false, 1)]
    [InlineData(false, 3)]
    public void TheStopTokenWaitsForTheMinimum(bool cpuDecoder, int beams)
    {
        bool before = TextGenerator.UseCpuDecoder;
        try
        {
            TextGenerator.UseCpuDecoder = cpuDecoder;
            var generator = new TextGenerator(_lm);
            if (beams == 1) Assert.Single(generator.Generate(Prompt, StoppingAtOnce(0)).Tokens[0]);   // the stop token, at once

            var options = StoppingAtOnce(4, beams);
            var bounded = generator.Generate(Prompt, options);
            Assert.True(bounded.Tokens[0].Length >= 4, $"{bounded.Tokens[0].Length} tokens");
            Assert.DoesNotContain(options.StopTokenIds[0], bounded.Tokens[0].Take(4));
        }
        finally
        {
            TextGenerator.UseCpuDecoder = before;
        }
    }

    [Fact]
    public async Task TheBatcherHonoursTheMinimumAsTheGeneratorDoes()
    {
        using var batcher = new ContinuousBatcher(_lm);
        var options = StoppingAtOnce(4);
        var batched = await batcher.GenerateAsync(new GenerationPrompt(Prompt), options);
        Assert.Equal(new TextGenerator(_lm).Generate(Prompt, options).Tokens[0], batched.Tokens[0]);
        Assert.DoesNotContain(options.StopTokenIds[0], batched.Tokens[0].Take(4));
    }

    [Fact]
    public void AMinimumAboveTheMaximumIsRefused() =>
        Assert.Throws<ArgumentException>(() => new GenerationOptions { MaxNewTokens = 2, MinNewTokens = 3 }.Validate());
}
