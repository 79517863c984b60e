using RsMoe.Training;
using static TorchSharp.torch;

namespace RsMoe.Training.Tests;

public sealed class TokenDropoutTests
{
    [Fact]
    public void EachRowKeepsItsShareOfTokensInReadingOrderAndTheSeedDecidesWhich()
    {
        using var scope = NewDisposeScope();
        // Token t of row b holds the value 1000 b + t in every channel, so each kept token names itself.
        var tokens = (arange(3, ScalarType.Float32).view(3, 1, 1) * 1000 + arange(49, ScalarType.Float32).view(1, 49, 1)).expand(3, 49, 8).contiguous();
        manual_seed(11);
        var kept = TokenDropout.Keep(tokens, 0.25);
        Assert.Equal(new long[] { 3, 37, 8 }, kept.shape);
        var rows = new List<long[]>();
        for (int b = 0; b < 3; b++)
        {
            var names = kept[b, .., 0].data<float>().Select(v => (long)v - 1000L * b).ToArray();
            Assert.All(names, t => Assert.InRange(t, 0, 48));
            Assert.Equal(names.Order(), names);                        // reading order, no repeats
            Assert.Equal(names.Length, names.Distinct().Count());
            Assert.True(kept[b].eq(kept[b, .., 0].unsqueeze(1)).all().item<bool>(), "a kept token keeps all its channels");
            rows.Add(names);
        }
        Assert.False(rows[0].SequenceEqual(rows[1]) && rows[1].SequenceEqual(rows[2]), "rows draw their own tokens");

        manual_seed(11);
        Assert.True(TokenDropout.Keep(tokens, 0.25).eq(kept).all().item<bool>(), "the same seed keeps the same tokens");
        Assert.Same(tokens, TokenDropout.Keep(tokens, 0));
        Assert.Equal(1, TokenDropout.Keep(tokens, 0.999).shape[1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => TokenDropout.Keep(tokens, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer(new TrainingConfig { VisualTokenDropout = -0.1 }));
    }
}
