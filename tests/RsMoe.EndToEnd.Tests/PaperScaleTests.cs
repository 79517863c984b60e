using Google.Protobuf;
using RsMoe.Contracts.V1;
using RsMoe.EndToEnd.Tests.Support;
using RsMoe.Model.Moe;
using RsMoe.Model.Vision;

namespace RsMoe.EndToEnd.Tests;

/// <summary>A paper-scale model trained by the trainer serves through the gateway and evaluates, its backbone read from its own folder.</summary>
[Collection(PaperScaleCollection.Name)]
public sealed class PaperScaleTests(PaperScaleFixture fixture)
{
    [Fact]
    public async Task A_trained_paper_scale_model_is_served_by_rsmoe_up_and_evaluated()
    {
        var photo = File.ReadAllBytes(SharedData.Path("rsscn7", "images", "eForest", "e010.jpg"));
        var captioner = new Captioner.CaptionerClient(fixture.Gateway);
        var served = await captioner.CaptionAsync(new CaptionRequest { Image = ByteString.CopyFrom(photo) }, deadline: DateTime.UtcNow.AddMinutes(1));
        Assert.Equal(["theme", "objects", "relationships"], served.Sections.Select(s => s.Aspect));
        Assert.All(served.Sections, s => Assert.Equal("", s.Error));

        // The same caption in process: EVA ViT-g's tokens through the same backbone choice, the same greedy decode.
        using var model = ModelFolder.Load(fixture.Model, sharedBase: true);
        using var backbone = ImageBackbone.For(model.Config);
        using var visual = backbone.Encode(photo);
        Assert.Equal(served.Caption, model.Caption(visual, RsMoe.Captions.CaptionPolicy.Instruction).Caption);

        // rsmoe eval model on the synthetic test split: the backbone comes from the model folder here too.
        var report = RsMoe.Training.ModelEvaluation.Run(fixture.Model, fixture.Data, "test", Path.Combine(fixture.Root, "eval"), maxImages: 2);
        Assert.True(File.Exists(Path.Combine(fixture.Root, "eval", "scores.json")));
        Assert.NotNull(report);
    }
}
