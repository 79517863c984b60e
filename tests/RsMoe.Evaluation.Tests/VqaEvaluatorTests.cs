using RsMoe.Evaluation.Vqa;

namespace RsMoe.Evaluation.Tests;

public sealed class VqaEvaluatorTests
{
    [Theory]
    [InlineData("There are thirty-seven large vehicles.", "there are 37 large vehicles")]
    [InlineData("The Upper part, of the image!", "upper part of image")]
    [InlineData("Twenty trees", "20 trees")]
    [InlineData("two hundred cars", "200 cars")]
    public void NormalisesCaseNumbersArticlesAndPunctuation(string raw, string normalised) =>
        Assert.Equal(normalised, AnswerNormalizer.Normalize(raw));

    [Theory]
    [InlineData("yes", "Yes.", true)]
    [InlineData("No, there are none.", "No.", true)]
    [InlineData("yes", "No.", false)]
    [InlineData("7", "There are seven planes in the image.", true)]
    [InlineData("seven", "There are seven planes in the image.", true)]
    [InlineData("six planes", "There are seven planes in the image.", false)]
    [InlineData("upper part", "The upper part of the image.", true)]
    [InlineData("white", "The roofs are white.", true)]
    [InlineData("red", "The roofs are white.", false)]
    [InlineData("", "White.", false)]
    [InlineData("the", "White.", false)]
    public void JudgesAnswersByTheDocumentedRule(string prediction, string reference, bool correct) =>
        Assert.Equal(correct, VqaEvaluator.IsCorrect(prediction, reference));

    [Fact]
    public void ReportsAccuracyPerTypeAndOnAverageAndCountsMissingAnswers()
    {
        var questions = new[] { ("q1", "presence", "Yes."), ("q2", "presence", "No."), ("q3", "quantity", "Three."), ("q4", "color", "Red.") };
        var predictions = new Dictionary<string, string> { ["q1"] = "yes", ["q2"] = "yes", ["q3"] = "3" };
        var scores = VqaEvaluator.Score(questions, predictions);
        Assert.Equal(0.5, scores.PerType["presence"]);
        Assert.Equal(1.0, scores.PerType["quantity"]);
        Assert.Equal(0.0, scores.PerType["color"]);
        Assert.Equal(0.5, scores.Overall);
        Assert.Equal((0.5 + 1 + 0) / 3, scores.MeanOverTypes, 12);
        Assert.Equal(1, scores.Missing);
    }
}
