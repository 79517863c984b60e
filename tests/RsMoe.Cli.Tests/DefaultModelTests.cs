using System.Text.Json;
using RsMoe.Cli.Tests.Support;

namespace RsMoe.Cli.Tests;

/// <summary>The embedded default model, through the real rsmoe binary, on the sample scenes it ships with.</summary>
public sealed class DefaultModelTests
{
    static string Sample(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string path = Path.Combine(dir.FullName, "models", "default", "samples", name);
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException(name);
    }

    [Theory]
    [InlineData("harbor.png", "harbor")]
    [InlineData("airport.png", "airport")]
    [InlineData("residential.png", "residential")]
    public void CaptionsASampleSceneInThreeSectionsWithTheRightTheme(string sample, string theme)
    {
        var (code, output, error) = RsmoeProcess.Run("caption", Sample(sample), "--json");
        Assert.True(code == 0, output + error);
        using var json = JsonDocument.Parse(output);
        var sections = json.RootElement.GetProperty("sections").EnumerateArray().ToList();
        Assert.Equal(["theme", "objects", "relationships"], sections.Select(s => s.GetProperty("aspect").GetString()));
        Assert.All(sections, s => Assert.False(string.IsNullOrWhiteSpace(s.GetProperty("text").GetString())));
        Assert.Contains(theme, sections[0].GetProperty("text").GetString());
        Assert.Equal(3, json.RootElement.GetProperty("gate").GetArrayLength());
    }

    [Fact]
    public void RoutesQuestionsToTheExpertOfTheirAspect()
    {
        var (code, output, _) = RsmoeProcess.Run("ask", Sample("harbor.png"), "Are there any ships in this image?", "--json");
        Assert.Equal(0, code);
        using var presence = JsonDocument.Parse(output);
        Assert.Equal("objects", presence.RootElement.GetProperty("expert").GetString());
        Assert.StartsWith("Yes", presence.RootElement.GetProperty("answer").GetString());
        (code, output, _) = RsmoeProcess.Run("ask", Sample("harbor.png"), "What kind of scene is shown in this image?", "--json");
        using var scene = JsonDocument.Parse(output);
        Assert.Equal("theme", scene.RootElement.GetProperty("expert").GetString());
    }

    [Fact]
    public void ANonImageIsRefusedWithAClearError()
    {
        string path = Path.Combine(Path.GetTempPath(), $"not-an-image-{Guid.NewGuid():N}.png");
        File.WriteAllText(path, "hello");
        var (code, _, error) = RsmoeProcess.Run("caption", path);
        Assert.Equal(2, code);
        Assert.Contains("not an image", error);
    }
}
