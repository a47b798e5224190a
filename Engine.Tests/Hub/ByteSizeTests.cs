using Engine.Cli.Formatting;
using NUnit.Framework;

namespace Engine.Tests.Hub;

/// <summary>The sizes `engine models` and `engine pull` print.</summary>
[TestFixture]
public class ByteSizeTests
{
    [TestCase(999L, "999 B")]
    [TestCase(1000L, "1.0 kB")]
    [TestCase(988_097_824L, "988.1 MB")]
    [TestCase(16_060_522_496L, "16.1 GB")]
    public void BytesUseDecimalUnits(long bytes, string expected) => Assert.That(ByteSize.Format(bytes), Is.EqualTo(expected));

    [TestCase(494_032_768L, "494M")]
    [TestCase(7_615_616_512L, "7.62B")]
    public void ParametersUseMillionsOrBillions(long parameters, string expected) =>
        Assert.That(ByteSize.FormatParameters(parameters), Is.EqualTo(expected));
}
