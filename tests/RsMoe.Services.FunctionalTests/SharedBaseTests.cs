using RsMoe.Model.Moe;
using RsMoe.Services.FunctionalTests.Support;

namespace RsMoe.Services.FunctionalTests;

/// <summary>The default model in the shared-base layout (one base, three adapters, one batched pass) against one merged copy per expert.</summary>
public sealed class SharedBaseTests(DefaultModelFixture fixture) : IClassFixture<DefaultModelFixture>
{
    [Fact]
    public void Captions_and_answers_equal_the_merged_experts_and_the_weights_take_less_memory()
    {
        var merged = fixture.Model.Model;
        using var shared = ModelFolder.Load(DefaultModel.Directory, sharedBase: true);
        Assert.NotNull(shared.Bank);
        Assert.Empty(shared.Experts);
        foreach (var sample in new[] { "harbor", "airport", "forest", "residential", "parking-lot" })
        {
            using var visual = TorchSharp.torch.tensor(fixture.Model.VisualTokens(sample), [1, 49, 512]);
            var expected = merged.Caption(visual, "Describe this image in detail.");
            var actual = shared.Caption(visual, "Describe this image in detail.");
            Assert.Equal(expected.Sections.Select(s => s.Text), actual.Sections.Select(s => s.Text));
            Assert.Equal(expected.Caption, actual.Caption);
            var question = "Are there any ships in this image?";
            Assert.Equal(merged.Ask(visual, question), shared.Ask(visual, question), (a, b) => a.Answer == b.Answer && a.Expert == b.Expert);
        }
        // Three merged copies hold the base three times over; the bank adds only the adapters to one base.
        Assert.True(shared.LanguageModelBytes * 2 < merged.LanguageModelBytes, $"{shared.LanguageModelBytes} vs {merged.LanguageModelBytes}");
    }
}
