using RsMoe.Data.Aspects;
using RsMoe.Data.Datasets;
using Xunit.Abstractions;

namespace RsMoe.Data.Tests;

public sealed class AspectSplitterTests
{
    readonly ITestOutputHelper _output;
    public AspectSplitterTests(ITestOutputHelper output) => _output = output;

    // RSICap image 0's caption, labelled by hand.
    const string ParkingLot = "This is an aerial image showing a parking lot with a high resolution. In the parking lot, there are many vehicles, including cars, trucks, and buses. Specifically, thirty-seven large-vehicles and fourteen small-vehicles can be observed in the image. Some of them are parked in rows, and others are parked in random positions. In the image's bottom-right, the trucks and buses are parked in a line.";

    [Fact]
    public void SplitsSentencesWithoutBreakingNumbersOrInitials()
    {
        var sentences = AspectSplitter.Sentences("There are 2.5 km of roads. A U.S. plane is parked! Is it white? Yes");
        Assert.Equal(["There are 2.5 km of roads.", "A U.S. plane is parked!", "Is it white?", "Yes"], sentences);
    }

    [Fact]
    public void LabelsAHandLabelledCaption()
    {
        var labels = AspectSplitter.Split(ParkingLot).Select(s => s.Aspect).ToArray();
        Assert.Equal([AspectSplitter.Theme, AspectSplitter.Objects, AspectSplitter.Objects, AspectSplitter.Relationships, AspectSplitter.Relationships], labels);
    }

    [Theory]
    [InlineData("There are several white storage tanks.", AspectSplitter.Objects)]
    [InlineData("Many red-roofed houses can be seen.", AspectSplitter.Objects)]
    [InlineData("A road runs through the middle of the image from north to south.", AspectSplitter.Relationships)]
    [InlineData("To the left of the river there is a forest.", AspectSplitter.Relationships)]
    [InlineData("The cars are parked next to the building.", AspectSplitter.Relationships)]
    [InlineData("In the top left corner, there is a swimming pool.", AspectSplitter.Relationships)]
    [InlineData("Overall, the scene is a busy industrial area.", AspectSplitter.Theme)]
    [InlineData("The whole image shows a dense residential area.", AspectSplitter.Theme)]
    [InlineData("Three planes are white and one is grey.", AspectSplitter.Objects)]
    public void LabelsLaterSentencesByWhatTheyDescribe(string sentence, string aspect)
    {
        Assert.Equal(aspect, AspectSplitter.Label(sentence, index: 1));
    }

    [Fact]
    public void TheFirstSentenceIsTheTheme()
    {
        Assert.Equal(AspectSplitter.Theme, AspectSplitter.Label("There are cars on the left.", 0));
    }

    [Fact]
    public void RunsOverTheWholeRsiCapText()
    {
        var dataset = DatasetReader.Read(SharedData.Path("rsicap", "captions.json"));
        var counts = new Dictionary<string, int>();
        int sentences = 0;
        foreach (var image in dataset.Images)
            foreach (var s in AspectSplitter.Split(image.Captions[0]))
            {
                counts[s.Aspect] = counts.GetValueOrDefault(s.Aspect) + 1;
                sentences++;
            }
        foreach (var (aspect, n) in counts) _output.WriteLine($"{aspect}: {n} ({100.0 * n / sentences:F1}%)");
        Assert.Equal(2585, dataset.Images.Count);
        Assert.All(new[] { AspectSplitter.Theme, AspectSplitter.Objects, AspectSplitter.Relationships }, a => Assert.True(counts.GetValueOrDefault(a) > 0.05 * sentences, $"{a} is under 5%"));
        // Deterministic.
        Assert.Equal(AspectSplitter.Split(dataset.Images[7].Captions[0]), AspectSplitter.Split(dataset.Images[7].Captions[0]));
    }
}
