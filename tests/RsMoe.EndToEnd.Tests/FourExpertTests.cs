using System.Text.Json;
using Google.Protobuf;
using RsMoe.Contracts.V1;
using RsMoe.EndToEnd.Tests.Support;

namespace RsMoe.EndToEnd.Tests;

/// <summary>A fourth expert is trained, not configured: the launcher, the gateway and the web API follow the model's router.</summary>
[Collection(FourExpertCollection.Name)]
public sealed class FourExpertTests(FourExpertFixture fixture)
{
    static readonly string[] Roles = ["theme", "objects", "positions", "relations"];

    [Fact]
    public async Task Four_experts_each_write_a_section_list_themselves_and_answer()
    {
        Assert.Equal(Roles.Select(r => $"expert-{r}"), fixture.Constellation.Services.Select(s => s.Name).Where(n => n.StartsWith("expert-", StringComparison.Ordinal)));
        var captioner = new Captioner.CaptionerClient(fixture.Gateway);
        var image = ByteString.CopyFrom(File.ReadAllBytes(SharedData.Path("rsscn7", "images", "fResident", "f015.jpg")));

        var caption = await captioner.CaptionAsync(new CaptionRequest { Image = image }, deadline: DateTime.UtcNow.AddMinutes(1));
        Assert.Equal(Roles, caption.Sections.Select(s => s.Aspect));
        Assert.All(caption.Sections, s =>
        {
            Assert.Equal("", s.Error);
            Assert.StartsWith($"{s.Aspect}@", s.Expert);
        });
        Assert.Equal(4, caption.Gate.Count);

        using var experts = JsonDocument.Parse(await fixture.Http.GetStringAsync("/v1/experts"));
        var listed = experts.RootElement.GetProperty("experts").EnumerateArray().ToList();
        Assert.Equal(Roles, listed.Select(e => e.GetProperty("role").GetString()));
        Assert.All(listed, e => Assert.Equal("SERVING", e.GetProperty("health").GetString()));

        var answer = await captioner.AskAsync(new AskRequest { Image = image, Question = "Where is the road?" }, deadline: DateTime.UtcNow.AddMinutes(1));
        Assert.Contains(answer.Expert.Split('@')[0], Roles);
        Assert.Equal(Roles[RsMoe.Captions.CaptionPolicy.AnswerOrder(answer.Gate)[0]], answer.Expert.Split('@')[0]);
    }
}
