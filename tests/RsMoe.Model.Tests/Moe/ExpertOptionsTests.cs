using RsMoe.Captions;
using RsMoe.Model.Generation;
using RsMoe.Model.Moe;

namespace RsMoe.Model.Tests.Moe;

/// <summary>
/// The options every expert decodes with, in one process and in the expert service: its stop tokens, and no stop
/// before <see cref="CaptionPolicy.MinNewTokens"/>, so no section or answer comes back empty (the generator's side of
/// that guarantee is <see cref="Generation.MinNewTokensTests"/>).
/// </summary>
public sealed class ExpertOptionsTests
{
    [Fact]
    public void An_expert_never_stops_before_the_policys_minimum_within_the_token_budget()
    {
        var options = new GenerationOptions { MaxNewTokens = 24, RepetitionPenalty = 1.1 }.ForExpert([2]);
        Assert.Equal([2], options.StopTokenIds);
        Assert.Equal(CaptionPolicy.MinNewTokens, options.MinNewTokens);
        Assert.True(options.MinNewTokens >= 1);
        Assert.Equal(1.1, options.RepetitionPenalty);
        options.Validate();

        // A caller's larger minimum stands; a budget below the policy's minimum bounds it.
        Assert.Equal(5, new GenerationOptions { MaxNewTokens = 8, MinNewTokens = 5 }.ForExpert([2]).MinNewTokens);
        var none = new GenerationOptions { MaxNewTokens = 0 }.ForExpert([2]);
        Assert.Equal(0, none.MinNewTokens);
        none.Validate();
    }
}
